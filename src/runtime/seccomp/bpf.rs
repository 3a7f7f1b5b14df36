//! Our own seccomp compiler: the spec's `linux.seccomp` to classic BPF.
//!
//! The compiler emits one program: an arch check, then per syscall number its
//! rules in order (argument rules before unconditional ones, first match wins),
//! then the default action. seccompiler's IR allows only one match action per
//! filter, so we emit `seccompiler::sock_filter` instructions ourselves.
//!
//! Ordering in the container init (as runc): without no_new_privs, installing
//! needs CAP_SYS_ADMIN, so `compile` early and `install_program` before the
//! capabilities are dropped; with no_new_privs, install as late as possible,
//! right before execve.

use super::profile::native_scmp_arch;
use crate::image::host_arch;
use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use seccompiler::{sock_filter, BpfProgram};

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGT_K: u16 = 0x25;
const BPF_JGE_K: u16 = 0x35;
const BPF_JA: u16 = 0x05;
const BPF_JSET_K: u16 = 0x45;
const BPF_AND_K: u16 = 0x54;
const BPF_RET_K: u16 = 0x06;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

fn ret_value(a: LinuxSeccompAction, errno: Option<u32>) -> Result<u32> {
    use LinuxSeccompAction::*;
    Ok(match a {
        ScmpActKill | ScmpActKillThread => RET_KILL_THREAD,
        ScmpActKillProcess => RET_KILL_PROCESS,
        ScmpActTrap => RET_TRAP,
        ScmpActErrno => RET_ERRNO | (errno.unwrap_or(EPERM) & 0xffff),
        ScmpActTrace => RET_TRACE | (errno.unwrap_or(EPERM) & 0xffff),
        ScmpActLog => RET_LOG,
        ScmpActAllow => RET_ALLOW,
        ScmpActNotify => bail!("seccomp action SCMP_ACT_NOTIFY is not supported"),
    })
}

fn audit_arch(name: &str) -> Option<u32> {
    Some(match name {
        "SCMP_ARCH_X86_64" => 0xc000_003e,
        "SCMP_ARCH_X86" => 0x4000_0003,
        "SCMP_ARCH_X32" => 0xc000_003e,
        "SCMP_ARCH_AARCH64" => 0xc000_00b7,
        "SCMP_ARCH_ARM" => 0x4000_0028,
        "SCMP_ARCH_S390X" => 0x8000_0016,
        "SCMP_ARCH_S390" => 0x0000_0016,
        "SCMP_ARCH_RISCV64" => 0xc000_00f3,
        "SCMP_ARCH_PPC64LE" => 0xc000_0015,
        _ => return None,
    })
}

fn native_audit_arch() -> Result<u32> {
    audit_arch(native_scmp_arch())
        .with_context(|| format!("seccomp is not supported on {}", host_arch()))
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Offsets of the two 32-bit halves of argument `i` in seccomp_data.
fn arg_offsets(i: usize) -> (u32, u32) {
    let base = 16 + 8 * i as u32;
    if cfg!(target_endian = "little") {
        (base + 4, base) // (high, low)
    } else {
        (base, base + 4)
    }
}

/// Placeholder jump target meaning "this rule failed"; patched per rule.
const FAIL: u8 = 0xff;

/// Code for one 64-bit argument comparison; falls through on success and
/// jumps to FAIL (patched later) on failure.
fn emit_cond(
    out: &mut Vec<sock_filter>,
    fails: &mut Vec<(usize, bool)>,
    a: &oci_spec::runtime::LinuxSeccompArg,
) {
    use LinuxSeccompOperator::*;
    let (hi_off, lo_off) = arg_offsets(a.index());
    let split = |v: u64| ((v >> 32) as u32, v as u32);
    // Record a FAIL placeholder in jt (true) or jf (false).
    let mut push = |out: &mut Vec<sock_filter>, ins: sock_filter| {
        if ins.jt == FAIL {
            fails.push((out.len(), true));
        }
        if ins.jf == FAIL {
            fails.push((out.len(), false));
        }
        out.push(ins);
    };
    let (vh, vl) = split(a.value());
    match a.op() {
        ScmpCmpEq => {
            push(out, stmt(BPF_LD_W_ABS, hi_off));
            push(out, jump(BPF_JEQ_K, vh, 0, FAIL));
            push(out, stmt(BPF_LD_W_ABS, lo_off));
            push(out, jump(BPF_JEQ_K, vl, 0, FAIL));
        }
        ScmpCmpNe => {
            push(out, stmt(BPF_LD_W_ABS, hi_off));
            push(out, jump(BPF_JEQ_K, vh, 0, 2));
            push(out, stmt(BPF_LD_W_ABS, lo_off));
            push(out, jump(BPF_JEQ_K, vl, FAIL, 0));
        }
        ScmpCmpGt | ScmpCmpGe => {
            let last = if a.op() == ScmpCmpGt {
                BPF_JGT_K
            } else {
                BPF_JGE_K
            };
            push(out, stmt(BPF_LD_W_ABS, hi_off));
            push(out, jump(BPF_JGT_K, vh, 3, 0));
            push(out, jump(BPF_JEQ_K, vh, 0, FAIL));
            push(out, stmt(BPF_LD_W_ABS, lo_off));
            push(out, jump(last, vl, 0, FAIL));
        }
        ScmpCmpLt | ScmpCmpLe => {
            // a < v  <=>  !(a >= v);  a <= v  <=>  !(a > v)
            let last = if a.op() == ScmpCmpLt {
                BPF_JGE_K
            } else {
                BPF_JGT_K
            };
            push(out, stmt(BPF_LD_W_ABS, hi_off));
            push(out, jump(BPF_JGE_K, vh, 0, 3));
            push(out, jump(BPF_JEQ_K, vh, 0, FAIL));
            push(out, stmt(BPF_LD_W_ABS, lo_off));
            push(out, jump(last, vl, FAIL, 0));
        }
        ScmpCmpMaskedEq => {
            // value is the mask, valueTwo the datum (libseccomp's order).
            let (mh, ml) = (vh, vl);
            let (dh, dl) = split(a.value_two().unwrap_or(0));
            push(out, stmt(BPF_LD_W_ABS, hi_off));
            push(out, stmt(BPF_AND_K, mh));
            push(out, jump(BPF_JEQ_K, dh, 0, FAIL));
            push(out, stmt(BPF_LD_W_ABS, lo_off));
            push(out, stmt(BPF_AND_K, ml));
            push(out, jump(BPF_JEQ_K, dl, 0, FAIL));
        }
    }
}

struct Rule<'a> {
    args: &'a [oci_spec::runtime::LinuxSeccompArg],
    ret: u32,
}

/// The body for one syscall number: its rules in order, then the default.
fn syscall_block(rules: &[Rule<'_>], default_ret: u32) -> Result<Vec<sock_filter>> {
    let mut out = Vec::new();
    for r in rules {
        if r.args.is_empty() {
            out.push(stmt(BPF_RET_K, r.ret));
            return Ok(out); // nothing after an unconditional rule can match
        }
        let start = out.len();
        let mut fails = Vec::new();
        for a in r.args {
            emit_cond(&mut out, &mut fails, a);
        }
        out.push(stmt(BPF_RET_K, r.ret));
        let end = out.len(); // first instruction of the next rule
        if end - start > 255 {
            bail!("seccomp rule has too many argument conditions");
        }
        for (idx, is_true) in fails {
            let off = (end - idx - 1) as u8;
            if is_true {
                out[idx].jt = off;
            } else {
                out[idx].jf = off;
            }
        }
    }
    out.push(stmt(BPF_RET_K, default_ret));
    Ok(out)
}

/// Syscall name to number on one arch; None when the arch lacks it.
type Lookup = fn(&str) -> Option<u32>;

fn native_lookup(name: &str) -> Option<u32> {
    syscalls::Sysno::from_str(name).ok().map(|n| n.id() as u32)
}

#[cfg(target_arch = "x86_64")]
fn compat_lookup(name: &str) -> Option<u32> {
    syscalls::x86::Sysno::from_str(name)
        .ok()
        .map(|n| n.id() as u32)
}

#[cfg(target_arch = "aarch64")]
fn compat_lookup(name: &str) -> Option<u32> {
    syscalls::arm::Sysno::from_str(name)
        .ok()
        .map(|n| n.id() as u32)
}

/// The 32-bit arch a 64-bit kernel here also runs, with its syscall table.
fn compat_arch() -> Option<(u32, Lookup)> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let name = if cfg!(target_arch = "x86_64") {
            "SCMP_ARCH_X86"
        } else {
            "SCMP_ARCH_ARM"
        };
        return audit_arch(name).map(|a| (a, compat_lookup as Lookup));
    }
    #[allow(unreachable_code)]
    None
}

/// The rules for one arch: per syscall number, the rules in profile order
/// with argument rules first (an unconditional rule would shadow them), then
/// the default. Expects the syscall number in A.
fn arch_block(s: &LinuxSeccomp, lookup: Lookup, default_ret: u32) -> Result<Vec<sock_filter>> {
    let mut by_nr: BTreeMap<u32, (Vec<Rule<'_>>, Vec<Rule<'_>>)> = BTreeMap::new();
    for sc in s.syscalls().iter().flatten() {
        let ret = ret_value(sc.action(), sc.errno_ret())
            .with_context(|| format!("seccomp rule for {}", sc.names().join(",")))?;
        let args: &[_] = sc.args().as_deref().unwrap_or(&[]);
        if let Some(a) = args.iter().find(|a| a.index() > 5) {
            bail!(
                "seccomp rule for {}: argument index {} is not 0-5",
                sc.names().join(","),
                a.index()
            );
        }
        for name in sc.names() {
            // Unknown on this arch: skipped, as libseccomp does.
            let Some(nr) = lookup(name) else { continue };
            let e = by_nr.entry(nr).or_default();
            if args.is_empty() {
                e.1.push(Rule { args, ret });
            } else {
                e.0.push(Rule { args, ret });
            }
        }
    }
    let mut out = Vec::new();
    for (nr, (cond, uncond)) in by_nr {
        let rules: Vec<Rule<'_>> = cond.into_iter().chain(uncond).collect();
        let block = syscall_block(&rules, default_ret)?;
        if block.len() <= 255 {
            out.push(jump(BPF_JEQ_K, nr, 0, block.len() as u8));
        } else {
            out.push(jump(BPF_JEQ_K, nr, 1, 0));
            out.push(stmt(BPF_JA, block.len() as u32));
        }
        out.extend(block);
    }
    out.push(stmt(BPF_RET_K, default_ret));
    Ok(out)
}

/// Compile the spec's seccomp section to one BPF program: the native arch and,
/// when the spec lists it, the 32-bit compat arch (x86 on amd64, arm on arm64)
/// each get their own table. Syscall names unknown on an arch are skipped, as
/// libseccomp does; arches the spec does not list are killed (libseccomp's
/// bad-arch action).
pub fn compile(s: &LinuxSeccomp) -> Result<BpfProgram> {
    let default_ret =
        ret_value(s.default_action(), s.default_errno_ret()).context("seccomp defaultAction")?;
    let native = native_audit_arch()?;
    // A permissive default must not open what we cannot map (x32 numbers).
    let safe_default = if default_ret == RET_ALLOW || default_ret == RET_LOG {
        RET_ERRNO | ENOSYS
    } else {
        default_ret
    };
    let listed: Vec<String> = s
        .architectures()
        .iter()
        .flatten()
        .filter_map(|a| serde_json::to_value(a).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();

    // (audit arch, body) in dispatch order.
    let mut native_body = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
    if native == 0xc000_003e {
        // x32 syscalls carry their own numbering, which we do not map.
        native_body.push(jump(BPF_JSET_K, X32_SYSCALL_BIT, 0, 1));
        native_body.push(stmt(BPF_RET_K, safe_default));
    }
    native_body.extend(arch_block(s, native_lookup, default_ret)?);
    let mut bodies = vec![(native, native_body)];
    if let Some((compat, lookup)) = compat_arch() {
        let want = listed.iter().any(|a| audit_arch(a) == Some(compat));
        if want {
            let mut body = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
            body.extend(arch_block(s, lookup, default_ret)?);
            bodies.push((compat, body));
        }
    }

    // Dispatch: "jeq arch; ja body" pairs, then the bad-arch kill.
    let mut prog = vec![stmt(BPF_LD_W_ABS, OFF_ARCH)];
    let dispatch_len = 2 * bodies.len() + 1;
    let mut body_start = dispatch_len; // relative to the end of prog[0]
    for (i, (arch, body)) in bodies.iter().enumerate() {
        prog.push(jump(BPF_JEQ_K, *arch, 0, 1));
        // The ja sits at dispatch index 2*i+1; offsets count from the next insn.
        let ja_index = 2 * i + 1;
        prog.push(stmt(BPF_JA, (body_start - ja_index - 1) as u32));
        body_start += body.len();
    }
    prog.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    for (_, body) in bodies {
        prog.extend(body);
    }
    if prog.len() > 4096 {
        bail!(
            "seccomp filter has {} instructions, over the kernel's 4096",
            prog.len()
        );
    }
    Ok(prog)
}

/// SECCOMP_FILTER_FLAG_* bits from the spec's `flags`.
pub fn filter_flags(s: &LinuxSeccomp) -> Result<u32> {
    let mut f = 0;
    for flag in s.flags().iter().flatten() {
        let v = serde_json::to_value(flag)?;
        f |= match v.as_str().unwrap_or_default() {
            "SECCOMP_FILTER_FLAG_TSYNC" => crate::sys::seccomp::FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => crate::sys::seccomp::FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => crate::sys::seccomp::FLAG_SPEC_ALLOW,
            other => bail!("unsupported seccomp flag {other}"),
        };
    }
    Ok(f)
}

/// Load an already compiled program into the calling process.
pub fn install_program(prog: &BpfProgram, flags: u32) -> Result<()> {
    crate::sys::seccomp::install_filter(prog, flags).context("loading the seccomp filter")
}

/// Compile and load in one go (for callers that still hold CAP_SYS_ADMIN or
/// have set no_new_privs).
#[allow(dead_code)] // the one-step API; the container init compiles ahead instead
pub fn install(s: &LinuxSeccomp) -> Result<()> {
    let prog = compile(s)?;
    install_program(&prog, filter_flags(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::default_caps;
    use crate::runtime::seccomp::profile::default_profile;
    use crate::runtime::seccomp::profile::tests::profile;

    #[test]
    fn compiles_to_nonempty_bpf() {
        let s = default_profile(&default_caps()).unwrap();
        let p = compile(&s).unwrap();
        assert!(p.len() > 700, "{} instructions", p.len());
        assert_eq!(p.last().unwrap().code, BPF_RET_K);
        assert_eq!(p.last().unwrap().k, RET_ERRNO | 38);
        // Arch dispatch: native, then the listed compat arch, else kill.
        assert_eq!((p[0].code, p[0].k), (BPF_LD_W_ABS, OFF_ARCH));
        assert_eq!(
            (p[1].code, p[1].k),
            (BPF_JEQ_K, native_audit_arch().unwrap())
        );
        if let Some((compat, _)) = compat_arch() {
            assert_eq!((p[3].code, p[3].k), (BPF_JEQ_K, compat));
            assert_eq!((p[5].code, p[5].k), (BPF_RET_K, RET_KILL_PROCESS));
            // Every ja lands inside the program.
            for (i, ins) in p.iter().enumerate() {
                if ins.code == BPF_JA {
                    assert!(i + 1 + (ins.k as usize) < p.len());
                }
            }
        }
        let bad: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
        }))
        .unwrap();
        assert!(compile(&bad).unwrap_err().to_string().contains("index 6"));
        // A profile without architectures only admits the native arch.
        let bare = profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}"#);
        let p = compile(&bare).unwrap();
        assert_eq!((p[3].code, p[3].k), (BPF_RET_K, RET_KILL_PROCESS));
    }

    /// In a forked child: install `s`, run `probe`, report its result.
    fn in_child(s: &LinuxSeccomp, probe: impl FnOnce() -> i32) -> i32 {
        let prog = compile(s).unwrap();
        crate::sys::seccomp::run_in_child(move || {
            // no_new_privs so an unprivileged test run may install filters.
            if nix::sys::prctl::set_no_new_privs().is_err() {
                return 90;
            }
            if install_program(&prog, 0).is_err() {
                return 91;
            }
            probe()
        })
        .unwrap()
    }

    fn errno_of<T>(r: std::io::Result<T>) -> i32 {
        match r {
            Ok(_) => 0,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        }
    }

    #[test]
    fn filter_denies_with_errno() {
        let s = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
                {"names":["mkdirat","mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert_eq!(in_child(&s, || errno_of(std::env::current_dir())), 13);
        assert_eq!(
            in_child(&s, || errno_of(std::fs::create_dir("/nonexistent-dir/x"))),
            1
        );
        // Other syscalls are untouched.
        assert_eq!(in_child(&s, || errno_of(std::fs::metadata("/"))), 0);
    }

    #[test]
    fn filter_args_and_default() {
        // umask(0o22) allowed, any other umask -> EACCES; getpid allowed;
        // everything else would be ENOSYS, so keep the child's needs allowed.
        let s = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":22,"args":[{"index":0,"value":255,"valueTwo":8,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":7,"args":[{"index":0,"value":4096,"op":"SCMP_CMP_GE"}]},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":9,"args":[{"index":0,"value":1,"op":"SCMP_CMP_NE"}]}
            ]}"#,
        );
        fn pers(v: u64) -> i32 {
            use nix::sys::personality::{get, set, Persona};
            let r = if v == 0xffff_ffff {
                get() // passes 0xffffffff zero-extended
            } else {
                set(Persona::from_bits_retain(v as i32))
            };
            match r {
                Ok(_) => 0,
                Err(e) => e as i32,
            }
        }
        assert_eq!(in_child(&s, || pers(0xffff_ffff)), 0); // query: allowed
        assert_eq!(in_child(&s, || pers(0x0008)), 22); // masked eq
        assert_eq!(in_child(&s, || pers(0x2000)), 7); // >= 4096
        assert_eq!(in_child(&s, || pers(0x0000)), 9); // != 1
        assert_eq!(in_child(&s, || pers(0x0001)), 0); // no rule: default allow
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn compat_x86_syscalls_are_filtered() {
        let i80 = crate::sys::seccomp::int80_syscall_errno;
        // i386: getpid 20, getppid 64, vmsplice 316, cachestat 451, mseal 462.
        if i80(20, 0) != 0 {
            eprintln!("no IA32 emulation in this kernel; skipping");
            return;
        }
        let s = default_profile(&default_caps()).unwrap();
        assert_eq!(in_child(&s, || i80(20, 0)), 0);
        assert_eq!(in_child(&s, || i80(316, 0)), 1);
        assert_eq!(in_child(&s, || i80(451, 0)), 1);
        assert_eq!(in_child(&s, || i80(462, 0)), 38);
        // Without SCMP_ARCH_X86 listed, 32-bit calls are killed (SIGSYS).
        let bare = profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}"#);
        assert_eq!(in_child(&bare, || i80(64, 0)), 128 + libc::SIGSYS);
    }

    #[test]
    fn default_profile_in_force() {
        let s = default_profile(&default_caps()).unwrap();
        // Allowed syscalls work, bpf (needs CAP_SYS_ADMIN) is EPERM, and a
        // syscall the profile does not know is ENOSYS.
        assert_eq!(in_child(&s, || errno_of(std::env::current_dir())), 0);
        fn seccomp_mode() -> i32 {
            let st = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            st.lines()
                .find_map(|l| l.strip_prefix("Seccomp:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(-1)
        }
        assert_eq!(in_child(&s, seccomp_mode), 2);
        fn nr(name: &str) -> i64 {
            syscalls::Sysno::from_str(name).unwrap().id() as i64
        }
        let z = crate::sys::seccomp::zero_arg_syscall_errno;
        // vmsplice and cachestat are in the explicit EPERM list; unfiltered
        // they are EBADF.
        assert_eq!(in_child(&s, || z(nr("vmsplice"))), 1);
        assert_eq!(in_child(&s, || z(nr("cachestat"))), 1);
        // mseal (6.10) is unknown to the profile: the default, ENOSYS.
        assert_eq!(in_child(&s, || z(nr("mseal"))), 38);
        assert_ne!(z(nr("mseal")), 38, "kernel without mseal");
    }

    /// The compiled default filter in force, for the calls the current
    /// profile changed: socket families by argument, the CAP_SYS_PTRACE
    /// gate on kcmp, and ptrace/membarrier/mempolicy reaching the kernel.
    #[test]
    fn default_profile_sockets_and_ptrace_gate_in_force() {
        use crate::sys::seccomp::syscall_errno;
        fn nr(name: &str) -> i64 {
            syscalls::Sysno::from_str(name).unwrap().id() as i64
        }
        let socket = |family: usize, ty: usize, proto: usize| {
            move || syscall_errno(nr("socket"), [family, ty, proto, 0, 0, 0])
        };
        let s = default_profile(&default_caps()).unwrap();
        let (af_unix, af_netlink, af_alg, af_vsock) = (1, 16, 38, 40);
        let (stream, raw, seqpacket) = (1, 3, 5);
        assert_eq!(in_child(&s, socket(af_vsock, stream, 0)), libc::EPERM);
        assert_eq!(in_child(&s, socket(af_alg, seqpacket, 0)), libc::EPERM);
        // NETLINK_AUDIT (9) without CAP_AUDIT_WRITE: EINVAL from the filter.
        assert_eq!(in_child(&s, socket(af_netlink, raw, 9)), libc::EINVAL);
        assert_eq!(in_child(&s, socket(af_unix, stream, 0)), 0);
        assert_eq!(in_child(&s, socket(af_netlink, raw, 0)), 0);
        // kcmp(self, self, KCMP_FILE, 0, 0): refused without CAP_SYS_PTRACE.
        let me = std::process::id() as usize;
        let kcmp = move || syscall_errno(nr("kcmp"), [me, me, 0, 0, 0, 0]);
        assert_eq!(in_child(&s, kcmp), libc::EPERM);
        let mut caps = default_caps();
        caps.push("CAP_SYS_PTRACE".into());
        let traced = default_profile(&caps).unwrap();
        // With CAP_SYS_PTRACE the kernel answers: the child compares its
        // own fd 0 with itself (0, "equal").
        let kcmp_child = || {
            let me = std::process::id() as usize;
            syscall_errno(nr("kcmp"), [me, me, 0, 0, 0, 0])
        };
        assert_eq!(in_child(&traced, kcmp_child), 0);
        // ptrace(PTRACE_GETREGS, 1): reaches the kernel (ESRCH: not our
        // tracee) rather than the filter's EPERM.
        let getregs = || syscall_errno(nr("ptrace"), [12, 1, 0, 0, 0, 0]);
        assert_eq!(in_child(&s, getregs), libc::ESRCH);
        // membarrier(MEMBARRIER_CMD_QUERY) and get_mempolicy(NULL…) succeed.
        let mb = || syscall_errno(nr("membarrier"), [0; 6]);
        assert_eq!(in_child(&s, mb), 0);
        let gm = || syscall_errno(nr("get_mempolicy"), [0; 6]);
        assert_eq!(in_child(&s, gm), 0);
    }
}
