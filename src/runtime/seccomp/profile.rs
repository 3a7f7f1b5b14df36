//! seccomp profiles: podman's default profile and docker/OCI profile files,
//! resolved to the spec's `linux.seccomp` for a container.
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

use crate::image::host_arch;
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxSeccomp;
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
pub(super) fn native_scmp_arch() -> &'static str {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::runtime::capabilities::default_caps;

    use oci_spec::runtime::LinuxSeccompAction;

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

    pub(in crate::runtime::seccomp) fn profile(json: &str) -> LinuxSeccomp {
        to_spec(serde_json::from_str(json).unwrap(), &[], "test").unwrap()
    }
}
