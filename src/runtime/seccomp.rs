//! seccomp: podman's default profile, docker/OCI profile files, and our own
//! compiler from the spec's `linux.seccomp` to classic BPF.
//!
//! The default profile is the current containers/common `seccomp.json` (see
//! [`DEFAULT_PROFILE_VERSION`]; podman ships it as
//! /usr/share/containers/seccomp.json), embedded as data, byte for byte, and
//! filtered by capabilities, host arch and kernel exactly as containers/common's
//! `setupSeccomp` does before writing config.json: an entry is dropped when
//! any of its `excludes.caps` is held, its `excludes.arches` names the host or
//! the kernel is at least `excludes.minKernel`; and kept only when all of its
//! `includes.caps` are held, `includes.arches` (if any) names the host and the
//! kernel is at least `includes.minKernel`. `errnoRet` (or, without it, the
//! `errno` name) is the errno an ERRNO action returns.
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

use crate::image::host_arch;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use seccompiler::{sock_filter, BpfProgram};
use serde::Deserialize;

const DEFAULT_PROFILE: &str = include_str!("seccomp_default.json");

/// Where the built-in profile comes from: containers/common's
/// `pkg/seccomp/seccomp.json`, which now lives in the container-libs
/// monorepo (`common/pkg/seccomp/seccomp.json`), at this commit. `rpod info`
/// shows it as `host.security.seccompProfileVersion`.
pub const DEFAULT_PROFILE_VERSION: &str =
    "containers/common seccomp.json (container-libs 7a5bc89e215cde796e6e25c8a6d37362e81b8be0)";

/// SHA-256 of `seccomp_default.json`: a test holds the data to the version
/// named above, so the file can't change without the version changing too.
pub const DEFAULT_PROFILE_SHA256: &str =
    "339c91c4a751e0d1608cdecf681bb5f2ecd7dbc4df3039ead0f07f0c0b9d08aa";

// ---------------------------------------------------------------------------
// Profile format (docker / containers-common; an OCI `linux.seccomp` object is
// a subset of it, so both load through these types).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    /// The errno's name (containers/common writes both; the number wins).
    #[serde(default)]
    default_errno: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<ProfileSyscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileSyscall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    errno: Option<String>,
    #[serde(default)]
    args: Option<Vec<ProfileArg>>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
}

#[derive(Deserialize, serde::Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ProfileArg {
    index: usize,
    value: u64,
    #[serde(default)]
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// libseccomp's name for the native arch (the archMap key).
fn native_scmp_arch() -> &'static str {
    match host_arch() {
        "amd64" => "SCMP_ARCH_X86_64",
        "arm64" => "SCMP_ARCH_AARCH64",
        "386" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

fn kernel_version() -> (u32, u32) {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    parse_kernel(&rel)
}

fn parse_kernel(s: &str) -> (u32, u32) {
    let mut it = s
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// containers/common's setupSeccomp: keep the syscall groups whose
/// includes/excludes match the bounding caps, host arch and kernel.
fn to_spec(p: Profile, caps: &[String], origin: &str) -> Result<LinuxSeccomp> {
    let arch = host_arch();
    let kernel = kernel_version();
    if p.architectures.as_ref().is_some_and(|a| !a.is_empty())
        && p.arch_map.as_ref().is_some_and(|a| !a.is_empty())
    {
        bail!("{origin}: both 'architectures' and 'archMap' are set; use one of them");
    }
    if p.listener_path.as_deref().is_some_and(|l| !l.is_empty()) {
        bail!("{origin}: seccomp notify listeners (listenerPath) are not supported");
    }
    let mut architectures: Vec<String> = p.architectures.clone().unwrap_or_default();
    for m in p.arch_map.iter().flatten() {
        if m.architecture == native_scmp_arch() {
            architectures.push(m.architecture.clone());
            architectures.extend(m.sub_architectures.clone().unwrap_or_default());
            break;
        }
    }
    let min_kernel_ok = |mk: &Option<String>| -> Result<Option<bool>> {
        match mk.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => {
                let want = parse_kernel(v);
                if want == (0, 0) {
                    bail!("{origin}: invalid minKernel {v:?}");
                }
                Ok(Some(kernel >= want))
            }
        }
    };
    let has = |c: &String| caps.iter().any(|have| have.eq_ignore_ascii_case(c));

    let mut syscalls = Vec::new();
    for (i, call) in p.syscalls.into_iter().flatten().enumerate() {
        let ex = call.excludes.unwrap_or_default();
        let inc = call.includes.unwrap_or_default();
        if ex.arches.iter().flatten().any(|a| a == arch)
            || ex.caps.iter().flatten().any(has)
            || min_kernel_ok(&ex.min_kernel)? == Some(true)
        {
            continue;
        }
        if inc
            .arches
            .as_ref()
            .is_some_and(|a| !a.is_empty() && !a.iter().any(|a| a == arch))
            || !inc.caps.iter().flatten().all(has)
            || min_kernel_ok(&inc.min_kernel)? == Some(false)
        {
            continue;
        }
        let names = match (call.name, call.names) {
            (Some(n), Some(ns)) if !n.is_empty() && !ns.is_empty() => {
                bail!("{origin}: syscalls[{i}] sets both 'name' and 'names'")
            }
            (Some(n), _) if !n.is_empty() => vec![n],
            (_, Some(ns)) if !ns.is_empty() => ns,
            _ => bail!("{origin}: syscalls[{i}] names no syscall"),
        };
        parse_action(&call.action).with_context(|| format!("{origin}: syscalls[{i}]"))?;
        let mut entry = serde_json::json!({ "names": names, "action": call.action });
        let errno = errno_of(call.errno_ret, call.errno.as_deref())
            .with_context(|| format!("{origin}: syscalls[{i}]"))?;
        if let Some(e) = errno {
            entry["errnoRet"] = e.into();
        }
        if let Some(args) = call.args.filter(|a| !a.is_empty()) {
            for a in &args {
                parse_op(&a.op).with_context(|| format!("{origin}: syscalls[{i}]"))?;
                if a.index > 5 {
                    bail!(
                        "{origin}: syscalls[{i}]: argument index {} is not 0-5",
                        a.index
                    );
                }
            }
            entry["args"] = serde_json::to_value(args)?;
        }
        syscalls.push(entry);
    }
    parse_action(&p.default_action).with_context(|| format!("{origin}: defaultAction"))?;
    let mut out = serde_json::json!({
        "defaultAction": p.default_action,
        "syscalls": syscalls,
    });
    let default_errno = errno_of(p.default_errno_ret, p.default_errno.as_deref())
        .with_context(|| format!("{origin}: defaultErrno"))?;
    if let Some(e) = default_errno {
        out["defaultErrnoRet"] = e.into();
    }
    if !architectures.is_empty() {
        out["architectures"] = architectures.into();
    }
    if let Some(f) = p.flags.filter(|f| !f.is_empty()) {
        out["flags"] = f.into();
    }
    serde_json::from_value(out).with_context(|| format!("{origin}: not a valid seccomp profile"))
}

/// The errno of an ERRNO action: `errnoRet`, else the `errno` name (EPERM…).
fn errno_of(ret: Option<u32>, name: Option<&str>) -> Result<Option<u32>> {
    if ret.is_some() {
        return Ok(ret);
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let alias = match name {
        "EWOULDBLOCK" => "EAGAIN",
        "EDEADLOCK" => "EDEADLK",
        "ENOTSUP" => "EOPNOTSUPP",
        n => n,
    };
    (1..256)
        .map(nix::errno::Errno::from_raw)
        .find(|e| format!("{e:?}") == alias)
        .map(|e| Some(e as u32))
        .with_context(|| format!("unknown errno name {name:?}"))
}

/// Podman's default profile for a container with these (bounding) caps.
pub fn default_profile(caps: &[String]) -> Result<LinuxSeccomp> {
    let p: Profile =
        serde_json::from_str(DEFAULT_PROFILE).context("parsing the built-in seccomp profile")?;
    to_spec(p, caps, "built-in seccomp profile")
}

/// Load an OCI/docker-format profile (`--security-opt seccomp=PROFILE.json`).
pub fn load_profile(path: &Path, caps: &[String]) -> Result<LinuxSeccomp> {
    let origin = format!("seccomp profile {}", path.display());
    let data = std::fs::read(path).with_context(|| format!("reading {origin}"))?;
    let p: Profile = serde_json::from_slice(&data).with_context(|| format!("parsing {origin}"))?;
    to_spec(p, caps, &origin)
}

// ---------------------------------------------------------------------------
// Compiler.

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

fn parse_action(s: &str) -> Result<()> {
    match s {
        "SCMP_ACT_KILL"
        | "SCMP_ACT_KILL_THREAD"
        | "SCMP_ACT_KILL_PROCESS"
        | "SCMP_ACT_TRAP"
        | "SCMP_ACT_ERRNO"
        | "SCMP_ACT_TRACE"
        | "SCMP_ACT_LOG"
        | "SCMP_ACT_ALLOW" => Ok(()),
        "SCMP_ACT_NOTIFY" => bail!("seccomp action SCMP_ACT_NOTIFY is not supported"),
        other => bail!("unknown seccomp action {other:?}"),
    }
}

fn parse_op(s: &str) -> Result<()> {
    match s {
        "SCMP_CMP_NE" | "SCMP_CMP_LT" | "SCMP_CMP_LE" | "SCMP_CMP_EQ" | "SCMP_CMP_GE"
        | "SCMP_CMP_GT" | "SCMP_CMP_MASKED_EQ" => Ok(()),
        other => bail!("unknown seccomp operator {other:?}"),
    }
}

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

    fn names_with(s: &LinuxSeccomp, action: LinuxSeccompAction) -> Vec<String> {
        s.syscalls()
            .iter()
            .flatten()
            .filter(|c| c.action() == action)
            .flat_map(|c| c.names().clone())
            .collect()
    }

    #[test]
    fn default_profile_shape() {
        let s = default_profile(&default_caps()).unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(38));
        let allowed = names_with(&s, LinuxSeccompAction::ScmpActAllow);
        assert!(allowed.len() > 350, "{} allowed", allowed.len());
        for must in [
            "read", "write", "execve", "clone", "clone3", "openat", "capset", "setuid",
        ] {
            assert!(allowed.iter().any(|n| n == must), "{must} not allowed");
        }
        // CAP_SYS_CHROOT is a default cap: chroot allowed, no deny entry.
        assert!(allowed.iter().any(|n| n == "chroot"));
        let denied = names_with(&s, LinuxSeccompAction::ScmpActErrno);
        assert!(denied.iter().any(|n| n == "bpf"));
        assert!(!denied.iter().any(|n| n == "chroot"));
        if host_arch() == "amd64" {
            assert!(allowed.iter().any(|n| n == "arch_prctl"));
            assert!(!allowed.iter().any(|n| n == "s390_runtime_instr"));
            let arches: Vec<_> = s
                .architectures()
                .iter()
                .flatten()
                .map(|a| serde_json::to_value(a).unwrap())
                .collect();
            assert_eq!(
                arches,
                ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
            );
            // The entries setupSeccomp keeps for the default caps: deny,
            // allow, 5 personality, arch_prctl, modify_ldt, 8 cap-denied
            // groups, chroot (CAP_SYS_CHROOT is a default cap), 5 socket
            // rules, bpf and perf_event_open.
            assert_eq!(s.syscalls().as_ref().unwrap().len(), 25);
        }
    }

    #[test]
    fn cap_conditional_entries() {
        let base = default_profile(&default_caps()).unwrap();
        let allowed = names_with(&base, LinuxSeccompAction::ScmpActAllow);
        for n in [
            "bpf",
            "perf_event_open",
            "init_module",
            "acct",
            "settimeofday",
        ] {
            assert!(
                !allowed.iter().any(|a| a == n),
                "{n} allowed without its cap"
            );
        }
        let mut caps = default_caps();
        caps.push("CAP_SYS_ADMIN".into());
        caps.push("CAP_SYS_TIME".into());
        let s = default_profile(&caps).unwrap();
        let allowed = names_with(&s, LinuxSeccompAction::ScmpActAllow);
        for n in ["bpf", "perf_event_open", "settimeofday", "clock_settime"] {
            assert!(
                allowed.iter().any(|a| a == n),
                "{n} not allowed with its cap"
            );
        }
        let denied = names_with(&s, LinuxSeccompAction::ScmpActErrno);
        assert!(!denied.iter().any(|a| a == "bpf"));
        // AF_VSOCK (40) and AF_ALG (38) are refused whatever the caps;
        // NETLINK_AUDIT sockets only without CAP_AUDIT_WRITE.
        let sockets = |s: &LinuxSeccomp| {
            s.syscalls()
                .iter()
                .flatten()
                .filter(|c| c.names().iter().any(|n| n == "socket"))
                .count()
        };
        assert_eq!(sockets(&base), 5);
        caps.push("CAP_AUDIT_WRITE".into());
        assert_eq!(sockets(&default_profile(&caps).unwrap()), 3);
        // excludes.caps drops an entry when any one of them is held,
        // includes.caps keeps it only when all are: CAP_BPF alone allows
        // bpf, CAP_PERFMON alone perf_event_open.
        let mut caps = default_caps();
        caps.push("CAP_BPF".into());
        caps.push("CAP_PERFMON".into());
        let s = default_profile(&caps).unwrap();
        let allowed = names_with(&s, LinuxSeccompAction::ScmpActAllow);
        let denied = names_with(&s, LinuxSeccompAction::ScmpActErrno);
        for n in ["bpf", "perf_event_open"] {
            assert!(allowed.iter().any(|a| a == n), "{n} not allowed");
            assert!(!denied.iter().any(|a| a == n), "{n} still denied");
        }
        assert!(!allowed.iter().any(|a| a == "sethostname"));
    }

    #[test]
    fn embedded_profile_is_the_recorded_version() {
        use sha2::Digest;
        let sum = sha2::Sha256::digest(DEFAULT_PROFILE.as_bytes());
        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex, DEFAULT_PROFILE_SHA256,
            "seccomp_default.json changed: update DEFAULT_PROFILE_VERSION and the digest"
        );
        assert!(DEFAULT_PROFILE_VERSION.contains("7a5bc89e215cde796e6e25c8a6d37362e81b8be0"));
    }

    /// What the current containers/common profile says about the calls
    /// issue 9 names (ptrace, process_vm_*, the mempolicy calls,
    /// membarrier): upstream allows them all unconditionally now (the
    /// 2021 profile gated them on CAP_SYS_PTRACE / CAP_SYS_NICE and denied
    /// membarrier); kcmp and process_madvise stay gated on CAP_SYS_PTRACE,
    /// move_pages and migrate_pages denied.
    #[test]
    fn current_upstream_rules_for_ptrace_and_memory_policy() {
        let s = default_profile(&default_caps()).unwrap();
        let allowed = names_with(&s, LinuxSeccompAction::ScmpActAllow);
        let denied = names_with(&s, LinuxSeccompAction::ScmpActErrno);
        let is = |v: &[String], n: &str| v.iter().any(|a| a == n);
        for n in [
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "mbind",
            "get_mempolicy",
            "set_mempolicy",
            "membarrier",
        ] {
            assert!(is(&allowed, n) && !is(&denied, n), "{n}");
        }
        for n in ["kcmp", "process_madvise", "move_pages", "migrate_pages"] {
            assert!(is(&denied, n) && !is(&allowed, n), "{n}");
        }
        let mut caps = default_caps();
        caps.push("CAP_SYS_PTRACE".into());
        let s = default_profile(&caps).unwrap();
        let allowed = names_with(&s, LinuxSeccompAction::ScmpActAllow);
        assert!(is(&allowed, "kcmp") && is(&allowed, "process_madvise"));
    }

    #[test]
    fn entries_filtered_by_kernel_and_arch() {
        let other = if host_arch() == "s390x" {
            "amd64"
        } else {
            "s390x"
        };
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {{"names":["getpid"],"action":"SCMP_ACT_ERRNO","includes":{{"minKernel":"1.0"}}}},
            {{"names":["getppid"],"action":"SCMP_ACT_ERRNO","includes":{{"minKernel":"999.0"}}}},
            {{"names":["gettid"],"action":"SCMP_ACT_ERRNO","excludes":{{"minKernel":"1.0"}}}},
            {{"names":["getuid"],"action":"SCMP_ACT_ERRNO","excludes":{{"minKernel":"999.0"}}}},
            {{"names":["getgid"],"action":"SCMP_ACT_ERRNO","includes":{{"arches":["{me}"]}}}},
            {{"names":["getegid"],"action":"SCMP_ACT_ERRNO","includes":{{"arches":["{other}"]}}}},
            {{"names":["geteuid"],"action":"SCMP_ACT_ERRNO","excludes":{{"arches":["{me}"]}}}},
            {{"names":["getsid"],"action":"SCMP_ACT_ERRNO","excludes":{{"arches":["{other}"]}}}}
            ]}}"#,
            me = host_arch()
        );
        let s = profile(&json);
        let kept = names_with(&s, LinuxSeccompAction::ScmpActErrno);
        assert_eq!(kept, ["getpid", "getuid", "getgid", "getsid"]);
        let bad = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getpid"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"new"}}]}"#;
        let e = to_spec(serde_json::from_str(bad).unwrap(), &[], "test").unwrap_err();
        assert!(e.to_string().contains("invalid minKernel"), "{e:#}");
        assert_eq!(parse_kernel("6.18.0-1-amd64\n"), (6, 18));
        assert_eq!(parse_kernel("4.8"), (4, 8));
    }

    #[test]
    fn errno_names_stand_in_for_errno_ret() {
        let s = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrno":"ENOSYS","syscalls":[
                {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errno":"EACCES"},
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":5,"errno":"EPERM"}]}"#,
        );
        assert_eq!(s.default_errno_ret(), Some(38));
        let rets: Vec<_> = s
            .syscalls()
            .iter()
            .flatten()
            .map(|c| c.errno_ret())
            .collect();
        assert_eq!(rets, [Some(13), Some(5)], "errnoRet wins over the name");
        let bad = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errno":"EBOGUS"}]}"#;
        let e = to_spec(serde_json::from_str(bad).unwrap(), &[], "test").unwrap_err();
        assert!(format!("{e:#}").contains("EBOGUS"), "{e:#}");
    }

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

    #[test]
    fn load_profile_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.json");
        std::fs::write(&f, "{ nope").unwrap();
        let e = format!("{:#}", load_profile(&f, &[]).unwrap_err());
        assert!(e.contains("bad.json"), "{e}");
        let e = format!(
            "{:#}",
            load_profile(&dir.path().join("missing.json"), &[]).unwrap_err()
        );
        assert!(e.contains("missing.json"), "{e}");
        std::fs::write(&f, r#"{"defaultAction":"SCMP_ACT_NOPE","syscalls":[]}"#).unwrap();
        let e = format!("{:#}", load_profile(&f, &[]).unwrap_err());
        assert!(e.contains("bad.json") && e.contains("SCMP_ACT_NOPE"), "{e}");
        std::fs::write(
            &f,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let s = load_profile(&f, &[]).unwrap();
        assert_eq!(s.syscalls().as_ref().unwrap().len(), 1);
    }

    fn profile(json: &str) -> LinuxSeccomp {
        to_spec(serde_json::from_str(json).unwrap(), &[], "test").unwrap()
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
