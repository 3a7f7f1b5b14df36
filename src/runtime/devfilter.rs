//! The cgroup v2 device filter: `linux.resources.devices` (plus the devices
//! every container gets) as an eBPF program of type
//! BPF_PROG_TYPE_CGROUP_DEVICE, as runc and crun make it. Pure code: the
//! rule list is first reduced the way the v1 devices controller would
//! (runc's emulator: a default, then exceptions), then each exception
//! becomes one block of instructions. Loading and attaching is in
//! `crate::sys::bpf`.

use crate::sys::bpf::Insn;
use anyhow::{bail, Result};
use std::collections::BTreeMap;

/// Access bits as the kernel passes them (BPF_DEVCG_ACC_*).
pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Device types as the kernel passes them (BPF_DEVCG_DEV_*).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// One rule of a devices list, in order: `a`, `b` or `c`; None is `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// ACC_* bits.
    pub access: u8,
}

impl Rule {
    /// From the spec's fields (type None or "" is `a`, access "" is `rwm`).
    pub fn new(
        allow: bool,
        typ: &str,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> Result<Rule> {
        let typ = match typ {
            "" | "a" => 'a',
            "b" => 'b',
            // `u` (unbuffered char) is a char device to the kernel.
            "c" | "u" => 'c',
            other => bail!("device rule type \"{other}\" can't be used in a devices cgroup"),
        };
        let num = |v: Option<i64>, what: &str| -> Result<Option<u32>> {
            match v {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) => match u32::try_from(n) {
                    Ok(n) => Ok(Some(n)),
                    Err(_) => bail!("device rule {what} number {n} is out of range"),
                },
            }
        };
        Ok(Rule {
            allow,
            typ,
            major: num(major, "major")?,
            minor: num(minor, "minor")?,
            access: parse_access(access)?,
        })
    }

    /// The v1 `devices.allow`/`devices.deny` line: "c 1:3 rwm".
    pub fn cgroup_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.typ,
            n(self.major),
            n(self.minor),
            access_str(self.access)
        )
    }
}

pub fn parse_access(s: &str) -> Result<u8> {
    if s.is_empty() {
        return Ok(ACC_ALL);
    }
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => bail!("device access \"{s}\": unknown access '{c}' (use r, w and m)"),
        };
    }
    Ok(bits)
}

fn access_str(bits: u8) -> String {
    let mut s = String::new();
    for (b, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
        if bits & b != 0 {
            s.push(c);
        }
    }
    s
}

/// What a devices cgroup v1 would end up with after the rules in order: a
/// default, and exceptions to it keyed by (major, minor, type), `*` first,
/// the order runc emits them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduced {
    pub default_allow: bool,
    /// (major, minor, type) -> access bits of the exception.
    pub exceptions: BTreeMap<(i64, i64, char), u8>,
}

fn key(r: &Rule) -> (i64, i64, char) {
    let n = |v: Option<u32>| v.map_or(-1, i64::from);
    (n(r.major), n(r.minor), r.typ)
}

/// Reduce `rules` as the v1 controller does, starting from "deny all".
/// Like runc, refuses to take part of a wildcard exception away (v1 would
/// silently keep the wildcard, so the rule would not do what it says).
pub fn reduce(rules: &[Rule]) -> Result<Reduced> {
    let mut out = Reduced {
        default_allow: false,
        exceptions: BTreeMap::new(),
    };
    for r in rules {
        if r.typ == 'a' {
            // "a" resets everything, whatever its numbers and access say.
            out.default_allow = r.allow;
            out.exceptions.clear();
            continue;
        }
        let k = key(r);
        if r.allow != out.default_allow {
            // An exception to the default: add it.
            *out.exceptions.entry(k).or_insert(0) |= r.access;
            continue;
        }
        // Same as the default: take (part of) an exception away.
        let (maj, min, t) = k;
        for wild in [(-1, min, t), (maj, -1, t), (-1, -1, t)] {
            if wild == k {
                continue;
            }
            if out.exceptions.get(&wild).is_some_and(|a| a & r.access != 0) {
                bail!(
                    "device rule \"{}\" ({}) can't take part of the wider exception \"{}\" away",
                    r.cgroup_line(),
                    if r.allow { "allow" } else { "deny" },
                    Rule {
                        allow: !r.allow,
                        typ: t,
                        major: u32::try_from(wild.0).ok(),
                        minor: u32::try_from(wild.1).ok(),
                        access: out.exceptions[&wild],
                    }
                    .cgroup_line()
                );
            }
        }
        if let Some(a) = out.exceptions.get_mut(&k) {
            *a &= !r.access;
            if *a == 0 {
                out.exceptions.remove(&k);
            }
        }
    }
    Ok(out)
}

// eBPF opcodes used here.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_IMM: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_IMM: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_IMM: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const MOV32_REG: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JNE_IMM: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_REG: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// The program for `rules` (in order, as the spec lists them): for each
/// exception a block "if type, access, major and minor match, return the
/// exception's verdict", then the default. `struct bpf_cgroup_dev_ctx` is
/// { u32 access_type (type | access << 16); u32 major; u32 minor; }.
pub fn program(rules: &[Rule]) -> Result<Vec<Insn>> {
    let reduced = reduce(rules)?;
    let mut p = vec![
        // r2 = type, r3 = access, r4 = major, r5 = minor
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(AND32_IMM, 2, 0, 0, 0xFFFF),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(RSH32_IMM, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    let verdict = !reduced.default_allow;
    for (&(major, minor, typ), &access) in &reduced.exceptions {
        // Each jump goes to the next block: patched once the block's length is known.
        let start = p.len();
        let dev = if typ == 'b' { DEV_BLOCK } else { DEV_CHAR };
        p.push(insn(JNE_IMM, 2, 0, 0, dev));
        if access != ACC_ALL {
            // if (r3 & access) != r3: something not allowed was asked for.
            p.push(insn(MOV32_REG, 1, 3, 0, 0));
            p.push(insn(AND32_IMM, 1, 0, 0, i32::from(access)));
            p.push(insn(JNE_REG, 1, 3, 0, 0));
        }
        if major >= 0 {
            p.push(insn(JNE_IMM, 4, 0, 0, major as u32 as i32));
        }
        if minor >= 0 {
            p.push(insn(JNE_IMM, 5, 0, 0, minor as u32 as i32));
        }
        p.push(insn(MOV32_IMM, 0, 0, 0, i32::from(verdict)));
        p.push(insn(EXIT, 0, 0, 0, 0));
        let next = p.len();
        for (i, ins) in p.iter_mut().enumerate().take(next).skip(start) {
            if ins.code == JNE_IMM || ins.code == JNE_REG {
                ins.off = (next - i - 1) as i16;
            }
        }
    }
    p.push(insn(MOV32_IMM, 0, 0, 0, i32::from(reduced.default_allow)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    Ok(p)
}

/// A listing of `prog` in the words runc's tests use (cilium/ebpf's names),
/// with the resolved jump offsets: for tests and debug logs.
pub fn disassemble(prog: &[Insn]) -> String {
    let mut out = String::new();
    for (i, ins) in prog.iter().enumerate() {
        let (dst, src) = (ins.regs & 0x0f, ins.regs >> 4);
        let line = match ins.code {
            LDX_MEM_W => format!("LdXMemW dst: r{dst} src: r{src} off: {} imm: 0", ins.off),
            AND32_IMM => format!("AndImm32 dst: r{dst} imm: {}", ins.imm),
            RSH32_IMM => format!("RShImm32 dst: r{dst} imm: {}", ins.imm),
            MOV32_IMM => format!("MovImm32 dst: r{dst} imm: {}", ins.imm),
            MOV32_REG => format!("MovReg32 dst: r{dst} src: r{src}"),
            JNE_IMM => format!("JNEImm dst: r{dst} off: {} imm: {}", ins.off, ins.imm),
            JNE_REG => format!("JNEReg dst: r{dst} off: {} src: r{src}", ins.off),
            EXIT => "Exit".to_string(),
            c => format!("op {c:#04x}"),
        };
        out.push_str(&format!("{i}: {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(allow: bool, typ: &str, major: i64, minor: i64, access: &str) -> Rule {
        Rule::new(allow, typ, Some(major), Some(minor), access).unwrap()
    }

    const PROLOGUE: &str = "\
0: LdXMemW dst: r2 src: r1 off: 0 imm: 0
1: AndImm32 dst: r2 imm: 65535
2: LdXMemW dst: r3 src: r1 off: 0 imm: 0
3: RShImm32 dst: r3 imm: 16
4: LdXMemW dst: r4 src: r1 off: 4 imm: 0
5: LdXMemW dst: r5 src: r1 off: 8 imm: 0
";

    /// runc's TestDeviceFilter_Nil: no rules, deny everything.
    #[test]
    fn no_rules_deny_all() {
        let p = program(&[]).unwrap();
        assert_eq!(
            disassemble(&p),
            format!("{PROLOGUE}6: MovImm32 dst: r0 imm: 0\n7: Exit\n")
        );
    }

    /// runc's TestDeviceFilter_BuiltInAllowList: the same instructions in
    /// the same order (runc prints unresolved jumps as "off: -1 <block-N>";
    /// here they are resolved to the next block).
    #[test]
    fn runcs_built_in_allow_list() {
        let rules = [
            r(true, "c", -1, -1, "m"),
            r(true, "b", -1, -1, "m"),
            r(true, "c", 1, 3, "rwm"),
            r(true, "c", 1, 8, "rwm"),
            r(true, "c", 1, 7, "rwm"),
            r(true, "c", 5, 0, "rwm"),
            r(true, "c", 1, 5, "rwm"),
            r(true, "c", 1, 9, "rwm"),
            r(true, "c", 136, -1, "rwm"),
            r(true, "c", 5, 2, "rwm"),
            r(true, "c", 10, 200, "rwm"),
        ];
        let mut want = PROLOGUE.to_string();
        want.push_str(
            "\
6: JNEImm dst: r2 off: 5 imm: 1
7: MovReg32 dst: r1 src: r3
8: AndImm32 dst: r1 imm: 1
9: JNEReg dst: r1 off: 2 src: r3
10: MovImm32 dst: r0 imm: 1
11: Exit
12: JNEImm dst: r2 off: 5 imm: 2
13: MovReg32 dst: r1 src: r3
14: AndImm32 dst: r1 imm: 1
15: JNEReg dst: r1 off: 2 src: r3
16: MovImm32 dst: r0 imm: 1
17: Exit
",
        );
        let mut n = 18;
        for (maj, min) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 2),
            (10, 200),
        ] {
            want.push_str(&format!(
                "{}: JNEImm dst: r2 off: 4 imm: 2\n{}: JNEImm dst: r4 off: 3 imm: {maj}\n\
                 {}: JNEImm dst: r5 off: 2 imm: {min}\n{}: MovImm32 dst: r0 imm: 1\n{}: Exit\n",
                n,
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
            n += 5;
        }
        want.push_str(
            "\
58: JNEImm dst: r2 off: 3 imm: 2
59: JNEImm dst: r4 off: 2 imm: 136
60: MovImm32 dst: r0 imm: 1
61: Exit
62: MovImm32 dst: r0 imm: 0
63: Exit
",
        );
        assert_eq!(disassemble(&program(&rules).unwrap()), want);
    }

    /// runc's TestDeviceFilter_Privileged and _PrivilegedExceptSingleDevice.
    #[test]
    fn allow_all_with_one_exception() {
        let all = r(true, "a", -1, -1, "rwm");
        assert_eq!(
            disassemble(&program(&[all]).unwrap()),
            format!("{PROLOGUE}6: MovImm32 dst: r0 imm: 1\n7: Exit\n")
        );
        let p = program(&[all, r(false, "b", 8, 0, "rwm")]).unwrap();
        assert_eq!(
            disassemble(&p),
            format!(
                "{PROLOGUE}6: JNEImm dst: r2 off: 4 imm: 1\n7: JNEImm dst: r4 off: 3 imm: 8\n\
                 8: JNEImm dst: r5 off: 2 imm: 0\n9: MovImm32 dst: r0 imm: 0\n10: Exit\n\
                 11: MovImm32 dst: r0 imm: 1\n12: Exit\n"
            )
        );
    }

    /// runc's TestDeviceFilter_Weird: a rule before "a" is forgotten.
    #[test]
    fn rules_before_a_wildcard_are_reset() {
        let rules = [
            r(false, "b", 8, 1, "rwm"),
            r(true, "a", -1, -1, "rwm"),
            r(false, "b", 8, 2, "rwm"),
        ];
        let red = reduce(&rules).unwrap();
        assert!(red.default_allow);
        assert_eq!(
            red.exceptions.into_iter().collect::<Vec<_>>(),
            [((8, 2, 'b'), ACC_ALL)]
        );
    }

    #[test]
    fn exceptions_merge_shrink_and_holes_are_refused() {
        // The spec's usual list: deny all, then allow some; a later deny
        // takes part of an allow away.
        let red = reduce(&[
            r(false, "a", -1, -1, "rwm"),
            r(true, "c", 1, 3, "r"),
            r(true, "c", 1, 3, "w"),
            r(true, "c", 240, 0, "rwm"),
            r(false, "c", 240, 0, "m"),
            r(true, "c", 10, 1, "r"),
            r(false, "c", 10, 1, "r"),
        ])
        .unwrap();
        assert!(!red.default_allow);
        assert_eq!(
            red.exceptions.into_iter().collect::<Vec<_>>(),
            [
                ((1, 3, 'c'), ACC_READ | ACC_WRITE),
                ((240, 0, 'c'), ACC_READ | ACC_WRITE)
            ]
        );
        // Denying one minor of an allowed wildcard: v1 would ignore it.
        let e = reduce(&[r(true, "c", 136, -1, "rwm"), r(false, "c", 136, 3, "w")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("c 136:3 w") && e.contains("c 136:* rwm"), "{e}");
        // Different access bits do not overlap: fine.
        reduce(&[r(true, "c", -1, -1, "m"), r(false, "c", 1, 3, "r")]).unwrap();
    }

    #[test]
    fn rules_parse_and_print_as_v1_lines() {
        let rule = Rule::new(true, "c", Some(1), None, "rw").unwrap();
        assert_eq!(rule.cgroup_line(), "c 1:* rw");
        assert_eq!(
            Rule::new(false, "", None, None, "").unwrap().cgroup_line(),
            "a *:* rwm"
        );
        assert!(Rule::new(true, "p", None, None, "r").is_err());
        assert!(Rule::new(true, "c", None, None, "rx").is_err());
        assert!(Rule::new(true, "c", Some(1 << 40), None, "r").is_err());
    }

    /// The blocks' semantics, run on a tiny interpreter of the opcodes used:
    /// a deny-by-default list lets exactly the listed accesses through.
    #[test]
    fn the_program_decides_as_the_rules_say() {
        let rules = [
            r(false, "a", -1, -1, "rwm"),
            r(true, "c", 1, 3, "rw"),
            r(true, "c", 136, -1, "rwm"),
            r(true, "b", -1, -1, "m"),
        ];
        let p = program(&rules).unwrap();
        let run = |typ: i32, acc: u8, major: u32, minor: u32| -> u32 {
            let ctx = [(typ as u32) | (u32::from(acc) << 16), major, minor];
            let mut reg = [0u64; 11];
            let mut pc = 0usize;
            loop {
                let i = p[pc];
                let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
                pc += 1;
                match i.code {
                    LDX_MEM_W => reg[d] = u64::from(ctx[(i.off / 4) as usize]),
                    AND32_IMM => reg[d] = (reg[d] as u32 & i.imm as u32) as u64,
                    RSH32_IMM => reg[d] = ((reg[d] as u32) >> i.imm) as u64,
                    MOV32_IMM => reg[d] = i.imm as u32 as u64,
                    MOV32_REG => reg[d] = reg[s] as u32 as u64,
                    JNE_IMM if reg[d] != i.imm as i64 as u64 => pc += i.off as usize,
                    JNE_REG if reg[d] != reg[s] => pc += i.off as usize,
                    JNE_IMM | JNE_REG => {}
                    EXIT => return reg[0] as u32,
                    c => panic!("op {c}"),
                }
            }
        };
        assert_eq!(run(DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(run(DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1);
        assert_eq!(run(DEV_CHAR, ACC_MKNOD, 1, 3), 0);
        assert_eq!(run(DEV_CHAR, ACC_READ, 1, 5), 0);
        assert_eq!(run(DEV_BLOCK, ACC_READ, 1, 3), 0);
        assert_eq!(run(DEV_CHAR, ACC_ALL, 136, 7), 1);
        assert_eq!(run(DEV_BLOCK, ACC_MKNOD, 8, 0), 1);
        assert_eq!(run(DEV_BLOCK, ACC_READ, 8, 0), 0);
    }
}
