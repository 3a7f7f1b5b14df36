//! The Containerfile parser, with BuildKit's syntax rules: parser
//! directives (`# escape=`, `# syntax=`), line continuations, comments,
//! heredocs (`RUN <<EOF`), instruction flags (`--from=`), shell vs JSON
//! form, stages and the ARGs before the first FROM. Variables are expanded
//! later, per step (`expand`, `words`), because their values depend on the
//! ARGs and ENVs in force at that step.

use anyhow::{bail, Result};

/// A parse error: file, line and column of the fault.
#[derive(Debug)]
pub struct SyntaxError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

impl std::error::Error for SyntaxError {}

/// A heredoc (`<<EOF` … `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub body: String,
    /// False for a quoted delimiter (`<<"EOF"`): no variable expansion.
    pub expand: bool,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper case: "RUN", "COPY", ….
    pub keyword: String,
    /// `--name=value` flags (`--name` alone: value "").
    pub flags: Vec<(String, String)>,
    /// What follows the keyword and flags, unexpanded.
    pub rest: String,
    /// The JSON (exec) form, when `rest` is a JSON array of strings.
    pub json: Option<Vec<String>>,
    pub heredocs: Vec<Heredoc>,
    /// The instruction as podman shows it: continuations joined.
    pub original: String,
    pub line: usize,
    /// The column of `rest` on the instruction's first line (1-based).
    pub rest_col: usize,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A FROM and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub from: Instruction,
    /// The base image (unexpanded).
    pub base: String,
    /// `AS name`, lower case.
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// A parsed Containerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containerfile {
    /// The ARGs before the first FROM.
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    pub escape: char,
    /// Notes for the user (`# syntax=` ignored).
    pub notes: Vec<String>,
}

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Instructions whose argument may hold heredocs.
const HEREDOC_KEYWORDS: &[&str] = &["RUN", "COPY", "ADD"];
/// Instructions that take `--flags`.
const FLAG_KEYWORDS: &[&str] = &["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"];

/// Parse `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> std::result::Result<Containerfile, SyntaxError> {
    let err = |line: usize, col: usize, msg: String| SyntaxError {
        file: file.to_string(),
        line,
        col,
        msg,
    };
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let mut escape = '\\';
    let mut notes = Vec::new();
    let mut i = 0;
    // Parser directives: `# key=value` lines at the very top.
    let mut seen = std::collections::HashSet::new();
    while i < lines.len() {
        let Some(d) = directive(lines[i]) else { break };
        if !seen.insert(d.0.clone()) {
            break;
        }
        match d.0.as_str() {
            "escape" => match d.1.as_str() {
                "\\" => escape = '\\',
                "`" => escape = '`',
                v => {
                    return Err(err(
                        i + 1,
                        1,
                        format!("invalid escape token {v:?}: use \\ or `"),
                    ))
                }
            },
            "syntax" => notes.push(format!(
                "the syntax directive {:?} is ignored: rpod parses the Dockerfile syntax itself",
                d.1
            )),
            _ => {}
        }
        i += 1;
    }
    let mut out: Vec<Instruction> = Vec::new();
    while i < lines.len() {
        let first = lines[i];
        let trimmed = first.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        // Join continuation lines; comment and empty lines inside are dropped.
        let mut logical = String::new();
        let mut cur = first.to_string();
        loop {
            let t = cur.trim_end();
            if t.ends_with(escape) {
                logical.push_str(&t[..t.len() - escape.len_utf8()]);
                i += 1;
                // Skip comment and blank lines inside a continuation.
                while i < lines.len() {
                    let n = lines[i].trim_start();
                    if n.starts_with('#') || n.is_empty() {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i >= lines.len() {
                    break;
                }
                cur = lines[i].to_string();
            } else {
                logical.push_str(&cur);
                i += 1;
                break;
            }
        }
        let indent = first.len() - trimmed.len();
        let body = logical.trim_start();
        let (kw, after) = body
            .split_once(|c: char| c.is_whitespace())
            .unwrap_or((body, ""));
        let keyword = kw.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(err(
                start + 1,
                indent + 1,
                format!("unknown instruction: {kw}"),
            ));
        }
        let mut rest = after.trim_start();
        let mut rest_col = indent + kw.len() + 1 + (after.len() - rest.len()) + 1;
        let mut flags = Vec::new();
        if FLAG_KEYWORDS.contains(&keyword.as_str()) {
            while let Some(f) = rest.strip_prefix("--") {
                let end = f.find(char::is_whitespace).unwrap_or(f.len());
                let word = &f[..end];
                if word.is_empty() {
                    break;
                }
                let (k, v) = word.split_once('=').unwrap_or((word, ""));
                flags.push((k.to_ascii_lowercase(), v.to_string()));
                let next = f[end..].trim_start();
                rest_col += 2 + end + (f.len() - end - next.len());
                rest = next;
            }
        }
        let mut heredocs = Vec::new();
        if HEREDOC_KEYWORDS.contains(&keyword.as_str()) {
            for (name, strip, expand) in heredoc_markers(rest) {
                let mut body = String::new();
                let mut closed = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if strip { l.trim_start_matches('\t') } else { l };
                    if cmp == name {
                        closed = true;
                        break;
                    }
                    body.push_str(cmp);
                    body.push('\n');
                }
                if !closed {
                    return Err(err(
                        start + 1,
                        rest_col,
                        format!("unterminated heredoc {name:?}: no line {name:?} follows"),
                    ));
                }
                heredocs.push(Heredoc { name, body, expand });
            }
        }
        let rest = rest.trim_end().to_string();
        if rest.is_empty() && !matches!(keyword.as_str(), "ARG" | "ENV" | "LABEL") {
            return Err(err(
                start + 1,
                indent + 1,
                format!("{keyword} requires at least one argument"),
            ));
        }
        let json = json_form(&rest);
        let original = format!("{kw} {}", logical.trim_start()[kw.len()..].trim())
            .trim_end()
            .to_string();
        out.push(Instruction {
            keyword,
            flags,
            rest,
            json,
            heredocs,
            original,
            line: start + 1,
            rest_col,
        });
    }
    // Split into the global ARGs and stages.
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for ins in out {
        if ins.keyword == "FROM" {
            let w: Vec<&str> = ins.rest.split_whitespace().collect();
            let (base, name) = match w.as_slice() {
                [b] => (b.to_string(), None),
                [b, as_, n] if as_.eq_ignore_ascii_case("as") => {
                    let n = n.to_ascii_lowercase();
                    if !n
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        || !n.starts_with(|c: char| c.is_ascii_alphabetic())
                    {
                        return Err(err(
                            ins.line,
                            ins.rest_col,
                            format!("invalid name for build stage: {n:?}"),
                        ));
                    }
                    (b.to_string(), Some(n))
                }
                _ => {
                    return Err(err(
                        ins.line,
                        ins.rest_col,
                        "FROM takes an image and an optional AS name".to_string(),
                    ))
                }
            };
            if let Some(n) = &name {
                if stages.iter().any(|s| s.name.as_deref() == Some(n)) {
                    return Err(err(
                        ins.line,
                        ins.rest_col,
                        format!("duplicate name for build stage: {n:?}"),
                    ));
                }
            }
            stages.push(Stage {
                from: ins,
                base,
                name,
                instructions: Vec::new(),
            });
        } else if let Some(s) = stages.last_mut() {
            s.instructions.push(ins);
        } else if ins.keyword == "ARG" {
            global_args.push(ins);
        } else {
            return Err(err(
                ins.line,
                1,
                format!(
                    "{} before the first FROM: only ARG may come first",
                    ins.keyword
                ),
            ));
        }
    }
    if stages.is_empty() {
        return Err(err(
            lines.len().max(1),
            1,
            "no FROM instruction: a Containerfile needs at least one".into(),
        ));
    }
    Ok(Containerfile {
        global_args,
        stages,
        escape,
        notes,
    })
}

/// `# key=value` as a parser directive.
fn directive(line: &str) -> Option<(String, String)> {
    let t = line.trim().strip_prefix('#')?.trim();
    let (k, v) = t.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((k, v.trim().to_string()))
}

/// The heredoc markers of a line: (name, strip tabs, expand).
fn heredoc_markers(s: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'<' && b.get(i + 1) == Some(&b'<') && b.get(i + 2) != Some(&b'<') => {
                let mut j = i + 2;
                let strip = b.get(j) == Some(&b'-');
                if strip {
                    j += 1;
                }
                let q = match b.get(j) {
                    Some(&c @ (b'"' | b'\'')) => {
                        j += 1;
                        Some(c)
                    }
                    _ => None,
                };
                let st = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > st {
                    let name = s[st..j].to_string();
                    if let Some(q) = q {
                        if b.get(j) == Some(&q) {
                            j += 1;
                        }
                    }
                    out.push((name, strip, q.is_none()));
                }
                i = j;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out
}

/// The JSON form: an array of strings, else None (the shell form).
pub fn json_form(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?msg}` in `s` and remove quotes
/// (single quotes: literal; double quotes: expansion inside), with escape
/// character `esc`. One word: whitespace is kept.
pub fn expand(s: &str, esc: char, vars: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let w = process(s, esc, vars, false)?;
    Ok(w.into_iter().next().unwrap_or_default())
}

/// Like [`expand`], split into words at unquoted whitespace.
pub fn words(s: &str, esc: char, vars: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    process(s, esc, vars, true)
}

fn process(
    s: &str,
    esc: char,
    vars: &dyn Fn(&str) -> Option<String>,
    split: bool,
) -> Result<Vec<String>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut any = false;
    let mut i = 0;
    let mut dq = false;
    while i < chars.len() {
        let c = chars[i];
        if c == esc {
            if let Some(&n) = chars.get(i + 1) {
                if dq && !matches!(n, '"' | '$') && n != esc {
                    cur.push(c);
                }
                cur.push(n);
                any = true;
                i += 2;
                continue;
            }
            cur.push(c);
            i += 1;
            continue;
        }
        if c == '\'' && !dq {
            let end = chars[i + 1..]
                .iter()
                .position(|&x| x == '\'')
                .map(|p| i + 1 + p);
            let Some(end) = end else {
                bail!("unexpected end of statement while looking for matching single-quote");
            };
            cur.extend(&chars[i + 1..end]);
            any = true;
            i = end + 1;
            continue;
        }
        if c == '"' {
            dq = !dq;
            any = true;
            i += 1;
            continue;
        }
        if c == '$' {
            let (val, used) = variable(&chars[i + 1..], esc, vars)?;
            if used == 0 {
                cur.push('$');
                i += 1;
                continue;
            }
            cur.push_str(&val);
            any = any || !val.is_empty();
            i += 1 + used;
            continue;
        }
        if split && !dq && c.is_whitespace() {
            if any || !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                any = false;
            }
            i += 1;
            continue;
        }
        cur.push(c);
        any = true;
        i += 1;
    }
    if dq {
        bail!("unexpected end of statement while looking for matching double-quote");
    }
    if any || !cur.is_empty() || !split {
        out.push(cur);
    }
    Ok(out)
}

/// A variable reference after `$`: its value and the chars it used.
fn variable(
    c: &[char],
    esc: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, usize)> {
    let is_name = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
    if c.first() == Some(&'{') {
        let mut j = 1;
        while j < c.len() && is_name(c[j]) {
            j += 1;
        }
        let name: String = c[1..j].iter().collect();
        if name.is_empty() {
            bail!("bad substitution: ${{ without a variable name");
        }
        // Find the matching close brace.
        let mut depth = 1;
        let mut k = j;
        while k < c.len() {
            match c[k] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        if k >= c.len() {
            bail!("missing '}}' in ${{{name}");
        }
        let op: String = c[j..k].iter().collect();
        let val = vars(&name);
        let word = |w: &str| expand(w, esc, vars);
        let v = if op.is_empty() {
            val.unwrap_or_default()
        } else if let Some(d) = op.strip_prefix(":-") {
            match val.filter(|v| !v.is_empty()) {
                Some(v) => v,
                None => word(d)?,
            }
        } else if let Some(d) = op.strip_prefix(":+") {
            match val.filter(|v| !v.is_empty()) {
                Some(_) => word(d)?,
                None => String::new(),
            }
        } else if let Some(m) = op.strip_prefix(":?") {
            match val.filter(|v| !v.is_empty()) {
                Some(v) => v,
                None => bail!("{name}: {}", word(m)?),
            }
        } else if let Some(d) = op.strip_prefix('-') {
            val.map_or_else(|| word(d), Ok)?
        } else if let Some(d) = op.strip_prefix('+') {
            match val {
                Some(_) => word(d)?,
                None => String::new(),
            }
        } else if let Some(m) = op.strip_prefix('?') {
            match val {
                Some(v) => v,
                None => bail!("{name}: {}", word(m)?),
            }
        } else {
            bail!("unsupported modifier ({op}) in substitution ${{{name}{op}}}");
        };
        return Ok((v, k + 1));
    }
    let mut j = 0;
    while j < c.len() && is_name(c[j]) {
        j += 1;
    }
    if j == 0 {
        return Ok((String::new(), 0));
    }
    let name: String = c[..j].iter().collect();
    Ok((vars(&name).unwrap_or_default(), j))
}

/// `KEY=VALUE …` pairs (or the old `KEY VALUE` form) after expansion.
pub fn pairs(
    rest: &str,
    esc: char,
    vars: &dyn Fn(&str) -> Option<String>,
    what: &str,
) -> Result<Vec<(String, String)>> {
    let t = rest.trim();
    let first = t.split(char::is_whitespace).next().unwrap_or("");
    if !first.contains('=') {
        // The old form: KEY followed by the rest of the line.
        let Some((k, v)) = t.split_once(char::is_whitespace) else {
            bail!("{what} names must be followed by a value: {t:?}");
        };
        return Ok(vec![(k.to_string(), expand(v.trim(), esc, vars)?)]);
    }
    let mut out = Vec::new();
    for w in words(t, esc, vars)? {
        let Some((k, v)) = w.split_once('=') else {
            bail!("{what} {w:?}: expected KEY=VALUE");
        };
        if k.is_empty() {
            bail!("{what} {w:?}: the name is empty");
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "A" => Some("alpha".into()),
            "E" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn continuations_comments_and_directives() {
        let f = parse(
            "Containerfile",
            "# syntax=docker/dockerfile:1\n# escape=`\nFROM alpine AS Base\nRUN echo a && `\n# inside\n\n    echo b\n",
        )
        .unwrap();
        assert_eq!(f.escape, '`');
        assert_eq!(f.notes.len(), 1);
        assert_eq!(f.stages[0].name.as_deref(), Some("base"));
        let r = &f.stages[0].instructions[0];
        assert_eq!(r.rest, "echo a &&     echo b");
        assert_eq!(r.original, "RUN echo a &&     echo b");
        assert_eq!(r.line, 4);
    }

    #[test]
    fn flags_json_and_heredocs() {
        let f = parse(
            "F",
            "ARG V=1\nFROM a:${V}\nCOPY --from=b --chown=1:2 x /y\nCMD [\"sh\", \"-c\"]\nRUN <<EOF\necho 1\necho 2\nEOF\nRUN <<-'X' cat\n\tno $A\n\tX\nENV\tA=b\n",
        )
        .unwrap();
        assert_eq!(f.global_args.len(), 1);
        let s = &f.stages[0];
        assert_eq!(s.base, "a:${V}");
        let c = &s.instructions[0];
        assert_eq!(c.flag("from"), Some("b"));
        assert_eq!(c.flag("chown"), Some("1:2"));
        assert_eq!(c.rest, "x /y");
        assert_eq!(c.rest_col, 27);
        assert_eq!(
            s.instructions[1].json,
            Some(vec!["sh".to_string(), "-c".to_string()])
        );
        let h = &s.instructions[2].heredocs[0];
        assert_eq!(h.body, "echo 1\necho 2\n");
        assert!(h.expand);
        let h = &s.instructions[3].heredocs[0];
        assert_eq!(
            (h.name.as_str(), h.body.as_str(), h.expand),
            ("X", "no $A\n", false)
        );
        assert_eq!(s.instructions[4].keyword, "ENV");
        assert_eq!(s.instructions[4].line, 12);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("dir/Containerfile", "FROM a\n\n  BOGUS x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/Containerfile:3:3: unknown instruction: BOGUS"
        );
        let e = parse("F", "RUN x\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.msg.contains("before the first FROM"), "{e}");
        let e = parse("F", "FROM a\nRUN <<EOF\nx\n").unwrap_err();
        assert!(e.msg.contains("unterminated heredoc"), "{e}");
        let e = parse("F", "# nothing\n").unwrap_err();
        assert!(e.msg.contains("no FROM"), "{e}");
        let e = parse("F", "FROM a AS x\nFROM b AS X\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 6));
        let e = parse("F", "FROM a\nWORKDIR\n").unwrap_err();
        assert!(e.msg.contains("requires at least one argument"), "{e}");
    }

    #[test]
    fn expansion_rules() {
        let x = |s: &str| expand(s, '\\', &vars).unwrap();
        assert_eq!(x("$A/${A}"), "alpha/alpha");
        assert_eq!(x("${B:-def}"), "def");
        assert_eq!(x("${E:-def}"), "def");
        assert_eq!(x("${E-def}"), "");
        assert_eq!(x("${A:+set}${B:+no}"), "set");
        assert_eq!(x("${B:-${A}x}"), "alphax");
        assert_eq!(x("'$A' \"$A\" \\$A"), "$A alpha $A");
        assert_eq!(x("a$"), "a$");
        assert!(expand("${B:?need B}", '\\', &vars).is_err());
        assert!(expand("${A", '\\', &vars).is_err());
        let w = words("a \"b c\" '' ${A}d", '\\', &vars).unwrap();
        assert_eq!(w, ["a", "b c", "", "alphad"]);
        let p = pairs("K=$A L=\"x y\"", '\\', &vars, "ENV").unwrap();
        assert_eq!(
            p,
            [("K".into(), "alpha".into()), ("L".into(), "x y".into())]
        );
        let p = pairs("K  some $A value", '\\', &vars, "ENV").unwrap();
        assert_eq!(p, [("K".into(), "some alpha value".into())]);
    }
}
