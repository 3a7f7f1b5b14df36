//! rpod's one output layer, after podman's `report` package: a command
//! builds rows (any `serde::Serialize` struct, or a `serde_json::Value`)
//! and hands them to a [`Report`], which prints them as `--format` asks:
//!
//! * podman's default table (the command's own `table {{.A}}\t{{.B}}`
//!   template) when `--format` is absent, empty or `table`;
//! * a JSON array for `json` / `{{json .}}`;
//! * a Go template otherwise: `{{.Names}}`, `{{.Config.User}}`,
//!   `{{json .Labels}}`, `{{upper .X}}`, `{{join .L ","}}`, `{{len .L}}`,
//!   `{{truncate .X 5}}`, `{{index .Labels "k"}}`, `{{title .X}}`,
//!   `{{split .X ","}}`, `{{pad .X 1 2}}`, `{{printf "%-10s" .X}}`,
//!   pipelines (`{{.Names | upper}}`), `(…)` sub-expressions,
//!   `\t`/`\n`, `{{- trim -}}`; with a `table ` prefix
//!   the lines get a header row and aligned columns (podman's tabwriter:
//!   minimum width 12, padding 2), without it they print as they are.
//!
//! Templates see the rows as JSON: a field is a serde name, so a row type
//! names its fields the way podman's Go templates do (`#[serde(rename_all =
//! "PascalCase")]` or explicit renames).
//!
//! A list command (`ps`, `images`, `volume ls`, ...):
//!
//! ```ignore
//! #[derive(serde::Serialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Row { name: String, driver: String }
//! fn header(field: &str) -> Option<&'static str> {
//!     Some(match field { "Name" => "VOLUME NAME", _ => return None })
//! }
//! let rows: Vec<Row> = ...;
//! Report::list(a.format.as_deref(), "table {{.Driver}}\t{{.Name}}")?
//!     .headers(header)          // else a field's header is its name split
//!     .noheading(a.noheading)   // and upper-cased: CreatedAt -> CREATED AT
//!     .print(&rows)
//! ```
//!
//! An inspect command (JSON unless a template is given, then one line per
//! object): `Report::inspect(a.format.as_deref())?.print(&values)`.
//!
//! When the JSON objects differ from what templates see (podman's `ps`
//! prints `Names` as a list in JSON but as text in a template), ask
//! [`Report::is_json`] and print the one or the other. A table whose
//! columns are only known at run time (`top`) uses [`write_cells`].

use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use std::io::Write;

/// What `--format` chose.
#[derive(Debug, Clone)]
enum Mode {
    /// A JSON array of the rows (or, from [`Report::print_json`], one value).
    Json,
    /// A template; with its `table ` prefix, a header and aligned columns.
    Template(Template),
}

/// Header names for a table's fields (`"ID"` -> `"CONTAINER ID"`); None
/// falls back to the field name split and upper-cased.
pub type Headers = fn(&str) -> Option<&'static str>;

/// Rows printed as a table, a Go template or JSON; see the module doc.
#[derive(Debug, Clone)]
pub struct Report {
    mode: Mode,
    /// An inspect template prints each row's line even with `table `.
    inspect: bool,
    headers: Headers,
    noheading: bool,
    indent: &'static [u8],
}

fn no_headers(_: &str) -> Option<&'static str> {
    None
}

impl Report {
    fn new(mode: Mode, inspect: bool) -> Report {
        Report {
            mode,
            inspect,
            headers: no_headers,
            noheading: false,
            indent: b"  ",
        }
    }

    /// A list command's report: `default_table` (a `table ...` template)
    /// unless `--format` gives JSON or another template.
    pub fn list(format: Option<&str>, default_table: &str) -> Result<Report> {
        let mode = match format {
            f if is_default_table(f) => Mode::Template(Template::parse(default_table)?),
            Some(f) if is_json(f) => Mode::Json,
            Some(f) => Mode::Template(Template::parse(f)?),
            None => unreachable!("None is the default table"),
        };
        Ok(Report::new(mode, false))
    }

    /// An inspect command's report: a JSON array indented by five spaces
    /// (podman's inspect) unless `--format` gives a template, which prints
    /// one line per object.
    pub fn inspect(format: Option<&str>) -> Result<Report> {
        let mode = match format {
            Some(f) if !is_json(f) && !f.trim().is_empty() => Mode::Template(Template::parse(f)?),
            _ => Mode::Json,
        };
        Ok(Report::new(mode, true).json_indent(b"     "))
    }

    /// Header names for the table's fields.
    pub fn headers(mut self, h: Headers) -> Report {
        self.headers = h;
        self
    }

    /// Leave out a table's header row (`--noheading`).
    pub fn noheading(mut self, yes: bool) -> Report {
        self.noheading = yes;
        self
    }

    /// The JSON indentation (podman's is two spaces for most commands).
    pub fn json_indent(mut self, indent: &'static [u8]) -> Report {
        self.indent = indent;
        self
    }

    /// True when the rows print as JSON.
    pub fn is_json(&self) -> bool {
        matches!(self.mode, Mode::Json)
    }

    /// True when the template names `field` (`.Labels`, `.Labels.x`), so a
    /// command can skip computing what nobody will print.
    pub fn mentions(&self, field: &str) -> bool {
        match &self.mode {
            Mode::Json => true,
            Mode::Template(t) => t.fields().any(|p| p.first().is_some_and(|f| f == field)),
        }
    }

    /// Print `rows` to stdout.
    pub fn print<T: serde::Serialize>(&self, rows: &[T]) -> Result<()> {
        self.write(&mut std::io::stdout().lock(), rows)
    }

    /// Write `rows` as the report says.
    pub fn write<T: serde::Serialize>(&self, out: &mut dyn Write, rows: &[T]) -> Result<()> {
        let t = match &self.mode {
            Mode::Json => return write_json(out, rows, self.indent),
            Mode::Template(t) => t,
        };
        let table = t.table && !self.inspect;
        let mut lines = Vec::with_capacity(rows.len() + 1);
        if table && !self.noheading {
            lines.push(t.header(&self.headers));
        }
        for r in rows {
            lines.push(t.render(&serde_json::to_value(r)?)?);
        }
        write_rendered(out, &lines, table)
    }

    /// Print one value (not a list) as JSON with this report's indent
    /// (`info --format json`).
    pub fn print_json<T: serde::Serialize + ?Sized>(&self, v: &T) -> Result<()> {
        write_json(&mut std::io::stdout().lock(), v, self.indent)
    }
}

/// `v` as indented JSON and a newline.
fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut dyn Write,
    v: &T,
    indent: &[u8],
) -> Result<()> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)?;
    buf.push(b'\n');
    out.write_all(&buf)?;
    Ok(())
}

/// A table of plain cells whose columns are only known at run time
/// (`top`'s descriptors): the header row (unless None), then the rows,
/// laid out as podman's tabwriter does.
pub fn write_cells(
    out: &mut dyn Write,
    header: Option<&[&str]>,
    rows: &[Vec<String>],
) -> Result<()> {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    lines.extend(header.map(|h| h.join("\t")));
    lines.extend(rows.iter().map(|r| r.join("\t")));
    out.write_all(tabwrite(&lines).as_bytes())?;
    Ok(())
}

/// A parsed `--format` value.
#[derive(Debug, Clone)]
pub struct Template {
    /// Print a header row and align columns (the `table ` prefix).
    pub table: bool,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// A pipeline: `{{.A | upper}}` is two commands, each after the first
    /// getting the value before it as its last argument (Go's rule).
    Action(Vec<Cmd>),
}

#[derive(Debug, Clone, PartialEq)]
struct Cmd {
    func: Option<Func>,
    args: Vec<Arg>,
}

/// podman's template functions (containers/common `report`'s and Go's own).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Json,
    Upper,
    Lower,
    Title,
    Len,
    Join,
    Split,
    Truncate,
    Pad,
    Index,
    Printf,
    Print,
    Println,
}

impl Func {
    fn by_name(w: &str) -> Option<Func> {
        Some(match w {
            "json" => Func::Json,
            "upper" => Func::Upper,
            "lower" => Func::Lower,
            "title" => Func::Title,
            "len" => Func::Len,
            "join" => Func::Join,
            "split" => Func::Split,
            "truncate" => Func::Truncate,
            "pad" => Func::Pad,
            "index" => Func::Index,
            "printf" => Func::Printf,
            "print" => Func::Print,
            "println" => Func::Println,
            _ => return None,
        })
    }

    /// How many arguments it takes: at least, at most.
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Join | Func::Split | Func::Truncate => (2, 2),
            Func::Pad => (3, 3),
            Func::Index => (1, usize::MAX),
            Func::Printf => (1, usize::MAX),
            Func::Print | Func::Println => (0, usize::MAX),
            _ => (1, 1),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A field path from the row: `.` is `[]`, `.A.B` is `["A","B"]`.
    Field(Vec<String>),
    Str(String),
    Int(i64),
    /// A parenthesized pipeline: `(index .Labels "a")`.
    Pipe(Vec<Cmd>),
}

/// `json`, `JSON` and `{{json .}}` all mean "the whole value as JSON".
pub fn is_json(format: &str) -> bool {
    let f = format.trim();
    f.eq_ignore_ascii_case("json") || f == "{{json .}}" || f == "{{ json . }}"
}

/// True when `format` means podman's default table.
pub fn is_default_table(format: Option<&str>) -> bool {
    match format {
        None => true,
        Some(f) => f.trim().is_empty() || f.trim() == "table",
    }
}

/// podman accepts the two-character sequences `\t` and `\n` in formats.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

impl Template {
    pub fn parse(format: &str) -> Result<Template> {
        let mut s = format;
        let mut table = false;
        if let Some(rest) = s.strip_prefix("table") {
            if rest.is_empty() || rest.starts_with([' ', '\t']) {
                table = true;
                s = rest.trim_start();
            }
        }
        let src = unescape(s);
        let mut parts = Vec::new();
        let mut rest = src.as_str();
        while let Some(open) = rest.find("{{") {
            let mut text = rest[..open].to_string();
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| anyhow!("template {format:?}: unclosed action"))?;
            let mut inner = &after[..close];
            if let Some(t) = inner.strip_prefix('-') {
                text = text.trim_end().to_string();
                inner = t;
            }
            let mut rest_after = &after[close + 2..];
            if let Some(t) = inner.strip_suffix('-') {
                inner = t;
                rest_after = rest_after.trim_start();
            }
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
            parts
                .push(parse_action(inner.trim()).map_err(|e| anyhow!("template {format:?}: {e}"))?);
            rest = rest_after;
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { table, parts })
    }

    /// The header row of a table template: each field's header, or the
    /// field name upper-cased with its words split ("CreatedAt" -> "CREATED AT").
    pub fn header(&self, names: &dyn Fn(&str) -> Option<&'static str>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Action(cmds) => {
                    let field = cmds
                        .iter()
                        .flat_map(|c| c.args.iter())
                        .find_map(|a| match a {
                            Arg::Field(path) => Some(path.join(".")),
                            _ => None,
                        });
                    let f = field.unwrap_or_default();
                    match names(&f) {
                        Some(h) => out.push_str(h),
                        None => out.push_str(&split_camel_upper(&f)),
                    }
                }
            }
        }
        out
    }

    /// The field paths the template's actions name.
    fn fields(&self) -> impl Iterator<Item = &[String]> {
        fn walk<'a>(cmds: &'a [Cmd], out: &mut Vec<&'a [String]>) {
            for a in cmds.iter().flat_map(|c| c.args.iter()) {
                match a {
                    Arg::Field(path) => out.push(path.as_slice()),
                    Arg::Pipe(p) => walk(p, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Action(cmds) = p {
                walk(cmds, &mut out);
            }
        }
        out.into_iter()
    }

    pub fn render(&self, row: &Value) -> Result<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Action(cmds) => out.push_str(&go_string(&eval_pipe(cmds, row)?)),
            }
        }
        Ok(out)
    }
}

fn split_camel_upper(s: &str) -> String {
    let last = s.rsplit('.').next().unwrap_or(s);
    let mut out = String::new();
    let chars: Vec<char> = last.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if i > 0
            && c.is_uppercase()
            && (chars[i - 1].is_lowercase()
                || chars.get(i + 1).map(|n| n.is_lowercase()).unwrap_or(false))
        {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// A token of an action.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Bar,
}

fn parse_action(inner: &str) -> std::result::Result<Part, String> {
    let toks = tokenize(inner)?;
    if toks.is_empty() {
        return Err("empty action {{}}".into());
    }
    let mut pos = 0;
    let cmds = parse_pipe(&toks, &mut pos)?;
    if pos != toks.len() {
        return Err("unexpected \")\"".into());
    }
    Ok(Part::Action(cmds))
}

/// `cmd | cmd | …` up to the end or a `)`.
fn parse_pipe(toks: &[Tok], pos: &mut usize) -> std::result::Result<Vec<Cmd>, String> {
    let mut cmds = Vec::new();
    loop {
        let first = cmds.is_empty();
        let mut func = None;
        let mut args = Vec::new();
        let mut name = String::new();
        while let Some(t) = toks.get(*pos) {
            match t {
                Tok::Bar | Tok::Close => break,
                Tok::Open => {
                    *pos += 1;
                    let inner = parse_pipe(toks, pos)?;
                    if toks.get(*pos) != Some(&Tok::Close) {
                        return Err("unclosed \"(\"".into());
                    }
                    args.push(Arg::Pipe(inner));
                }
                Tok::Str(s) => args.push(Arg::Str(s.clone())),
                Tok::Word(w) => {
                    if let Some(path) = w.strip_prefix('.') {
                        args.push(Arg::Field(if path.is_empty() {
                            Vec::new()
                        } else {
                            path.split('.').map(str::to_string).collect()
                        }));
                    } else if let Ok(n) = w.parse::<i64>() {
                        args.push(Arg::Int(n));
                    } else if func.is_none() && args.is_empty() {
                        func = Some(
                            Func::by_name(w)
                                .ok_or_else(|| format!("unsupported function or action {w:?}"))?,
                        );
                        name = w.clone();
                    } else {
                        return Err(format!("unsupported argument {w:?}"));
                    }
                }
            }
            *pos += 1;
        }
        // After a `|`, the value before is the last argument.
        let given = args.len() + usize::from(!first);
        match func {
            None if args.len() != 1 || !first => {
                return Err(if args.is_empty() {
                    "empty command".into()
                } else {
                    "a field can't take arguments".into()
                })
            }
            Some(f) => {
                let (lo, hi) = f.arity();
                if given < lo || given > hi {
                    return Err(format!("{name:?} takes {lo} argument(s), got {given}"));
                }
            }
            None => {}
        }
        cmds.push(Cmd { func, args });
        match toks.get(*pos) {
            Some(Tok::Bar) => *pos += 1,
            _ => return Ok(cmds),
        }
    }
}

/// Split an action into words, "strings" (Go's escapes), `(`, `)` and `|`.
fn tokenize(s: &str) -> std::result::Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' || c == '|' {
            chars.next();
            out.push(match c {
                '(' => Tok::Open,
                ')' => Tok::Close,
                _ => Tok::Bar,
            });
        } else if c == '"' || c == '`' {
            chars.next();
            let mut w = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated string".into()),
                    Some(q) if q == c => break,
                    Some('\\') if c == '"' => match chars.next() {
                        Some('t') => w.push('\t'),
                        Some('n') => w.push('\n'),
                        Some(o) => w.push(o),
                        None => return Err("unterminated string".into()),
                    },
                    Some(o) => w.push(o),
                }
            }
            out.push(Tok::Str(w));
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || matches!(c, '(' | ')' | '|') {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(Tok::Word(w));
        }
    }
    Ok(out)
}

fn lookup<'a>(row: &'a Value, path: &[String]) -> Result<&'a Value> {
    let mut v = row;
    for (i, k) in path.iter().enumerate() {
        v = match v {
            Value::Object(m) => m.get(k).ok_or_else(|| {
                anyhow!("template: can't evaluate field .{}", path[..=i].join("."))
            })?,
            Value::Null => return Ok(&Value::Null),
            _ => bail!("template: .{} is not an object", path[..i].join(".")),
        };
    }
    Ok(v)
}

fn arg_value(a: &Arg, row: &Value) -> Result<Value> {
    Ok(match a {
        Arg::Field(p) => lookup(row, p)?.clone(),
        Arg::Str(s) => Value::String(s.clone()),
        Arg::Int(n) => Value::from(*n),
        Arg::Pipe(cmds) => eval_pipe(cmds, row)?,
    })
}

fn eval_pipe(cmds: &[Cmd], row: &Value) -> Result<Value> {
    let mut prev: Option<Value> = None;
    for c in cmds {
        let mut args = c
            .args
            .iter()
            .map(|a| arg_value(a, row))
            .collect::<Result<Vec<_>>>()?;
        args.extend(prev.take());
        prev = Some(match c.func {
            None => args.swap_remove(0),
            Some(f) => call(f, &args)?,
        });
    }
    Ok(prev.unwrap_or(Value::Null))
}

/// Go's strings.Title: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// Go's fmt for the verbs templates use: %s %v %d %q %%, with widths.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || d == '-' {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let text = match verb {
            'q' => serde_json::to_string(&go_string(a)).unwrap_or_default(),
            _ => go_string(a),
        };
        let left = spec.starts_with('-');
        let width: usize = spec.trim_start_matches('-').parse().unwrap_or(0);
        let n = text.chars().count();
        if n < width && left {
            out.push_str(&text);
            out.push_str(&" ".repeat(width - n));
        } else if n < width {
            out.push_str(&" ".repeat(width - n));
            out.push_str(&text);
        } else {
            out.push_str(&text);
        }
    }
    out
}

fn call(f: Func, a: &[Value]) -> Result<Value> {
    let s = |i: usize| go_string(&a[i]);
    let int = |i: usize| -> Result<i64> {
        a[i].as_i64()
            .ok_or_else(|| anyhow!("template: {} is not an integer", go_string(&a[i])))
    };
    Ok(match f {
        Func::Json => Value::String(serde_json::to_string(&a[0])?),
        Func::Upper => Value::String(s(0).to_uppercase()),
        Func::Lower => Value::String(s(0).to_lowercase()),
        Func::Title => Value::String(title(&s(0))),
        Func::Len => Value::from(match &a[0] {
            Value::Array(x) => x.len(),
            Value::Object(m) => m.len(),
            Value::String(x) => x.len(),
            Value::Null => 0,
            _ => bail!("template: len of a non-collection"),
        }),
        Func::Join => {
            let sep = s(1);
            Value::String(match &a[0] {
                Value::Array(x) => x.iter().map(go_string).collect::<Vec<_>>().join(&sep),
                Value::Null => String::new(),
                other => go_string(other),
            })
        }
        Func::Split => Value::Array(
            s(0).split(s(1).as_str())
                .map(|x| Value::String(x.to_string()))
                .collect(),
        ),
        Func::Truncate => {
            let n = int(1)?.max(0) as usize;
            Value::String(s(0).chars().take(n).collect())
        }
        Func::Pad => {
            let (pre, post) = (int(1)?.max(0) as usize, int(2)?.max(0) as usize);
            Value::String(format!("{}{}{}", " ".repeat(pre), s(0), " ".repeat(post)))
        }
        Func::Index => {
            let mut v = a[0].clone();
            for k in &a[1..] {
                v = match (&v, k) {
                    (Value::Object(m), _) => m.get(&go_string(k)).cloned().unwrap_or(Value::Null),
                    (Value::Array(x), Value::Number(n)) => {
                        let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                        x.get(i).cloned().ok_or_else(|| {
                            anyhow!("template: error calling index: index out of range: {n}")
                        })?
                    }
                    (Value::Null, _) => Value::Null,
                    _ => bail!(
                        "template: error calling index: can't index item of type {}",
                        match v {
                            Value::String(_) => "string",
                            Value::Bool(_) => "bool",
                            Value::Number(_) => "number",
                            _ => "value",
                        }
                    ),
                };
            }
            v
        }
        Func::Printf => Value::String(printf(&s(0), &a[1..])),
        Func::Print | Func::Println => {
            // Go's Sprint: a space between operands when neither is a string.
            let mut out = String::new();
            for (i, v) in a.iter().enumerate() {
                if i > 0 && (f == Func::Println || (!a[i - 1].is_string() && !v.is_string())) {
                    out.push(' ');
                }
                out.push_str(&go_string(v));
            }
            if f == Func::Println {
                out.push('\n');
            }
            Value::String(out)
        }
    })
}

/// How Go's templates print a value: strings bare, lists as `[a b]`, maps
/// as `map[k:v]`; nothing for a missing (null) value.
pub fn go_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(go_string).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_string(&m[*k])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Write the lines a template rendered: laid out as a table when the
/// template asked for one (`table …`), else one per line as they are.
fn write_rendered(out: &mut dyn Write, lines: &[String], table: bool) -> Result<()> {
    if table {
        out.write_all(tabwrite(lines).as_bytes())?;
    } else {
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// Lay out tab-separated lines as podman's tabwriter does (min width 12,
/// padding 2): each cell that ends in a tab is padded to its column's width;
/// the text after a line's last tab is left as is.
pub fn tabwrite(lines: &[String]) -> String {
    const MIN: usize = 12;
    const PAD: usize = 2;
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let ncols = cells
        .iter()
        .map(|c| c.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let mut width = vec![0usize; ncols];
    for row in &cells {
        for (i, c) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            width[i] = width[i].max((c.chars().count() + PAD).max(MIN));
        }
    }
    let mut out = String::new();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            out.push_str(c);
            if i + 1 < row.len() {
                let n = c.chars().count();
                out.push_str(&" ".repeat(width[i] - n));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v).unwrap()
    }

    #[test]
    fn fields_nested_fields_and_literals() {
        let v =
            json!({"Repository": "localhost/a", "Tag": "v1", "Config": {"User": "nobody"}, "N": 3});
        assert_eq!(r("{{.Repository}}:{{.Tag}}", &v), "localhost/a:v1");
        assert_eq!(r("user={{ .Config.User }} n={{.N}}", &v), "user=nobody n=3");
        assert_eq!(r("{{.Repository}}\\t{{.Tag}}", &v), "localhost/a\tv1");
        assert_eq!(r("plain", &v), "plain");
        assert_eq!(r("{{upper .Tag}} {{len .Repository}}", &v), "V1 11");
    }

    #[test]
    fn json_and_go_printing() {
        let v = json!({"Names": ["a", "b"], "Labels": {"z": "1", "a": "2"}, "Empty": null});
        assert_eq!(r("{{json .Names}}", &v), "[\"a\",\"b\"]");
        assert_eq!(r("{{.Names}}", &v), "[a b]");
        assert_eq!(r("{{.Labels}}", &v), "map[a:2 z:1]");
        assert_eq!(r("{{join .Names \",\"}}", &v), "a,b");
        assert_eq!(r("[{{.Empty}}]", &v), "[]");
        assert_eq!(r("{{.Empty.Deeper}}", &v), "");
        assert!(r("{{json .}}", &v).starts_with('{'));
        assert!(is_json("json") && is_json("{{json .}}") && !is_json("{{.ID}}"));
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Template::parse("{{.ID").is_err());
        assert!(Template::parse("{{range .X}}").is_err());
        assert!(Template::parse("{{}}").is_err());
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .render(&json!({"ID": 1}))
            .unwrap_err();
        assert!(e.to_string().contains(".Nope"), "{e}");
    }

    #[test]
    fn table_headers_and_layout() {
        let t = Template::parse("table {{.ID}}\t{{.CreatedAt}}\t{{.Repository}}").unwrap();
        assert!(t.table);
        let names = |f: &str| if f == "ID" { Some("IMAGE ID") } else { None };
        assert_eq!(t.header(&names), "IMAGE ID\tCREATED AT\tREPOSITORY");
        let out = tabwrite(&[
            "REPOSITORY\tTAG\tIMAGE ID".to_string(),
            "docker.io/library/alpine\tlatest\t0123456789ab".to_string(),
        ]);
        assert_eq!(
            out,
            "REPOSITORY                TAG         IMAGE ID\n\
             docker.io/library/alpine  latest      0123456789ab\n"
        );
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Vol {
        name: String,
        driver: &'static str,
    }

    fn vols() -> Vec<Vol> {
        ["data", "a-much-longer-name"]
            .iter()
            .map(|n| Vol {
                name: n.to_string(),
                driver: "local",
            })
            .collect()
    }

    fn report(r: Report, rows: &[Vol]) -> String {
        let mut out = Vec::new();
        r.write(&mut out, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_report_prints_the_default_table_a_template_or_json() {
        const T: &str = "table {{.Driver}}\t{{.Name}}";
        fn h(f: &str) -> Option<&'static str> {
            (f == "Name").then_some("VOLUME NAME")
        }
        let r = |f: Option<&str>| Report::list(f, T).unwrap().headers(h);
        let table = "DRIVER      VOLUME NAME\nlocal       data\nlocal       a-much-longer-name\n";
        assert_eq!(report(r(None), &vols()), table);
        assert_eq!(report(r(Some("table")), &vols()), table);
        assert_eq!(report(r(Some(" ")), &vols()), table);
        assert_eq!(
            report(r(None).noheading(true), &vols()),
            "local       data\nlocal       a-much-longer-name\n"
        );
        assert_eq!(
            report(r(Some("{{.Name}}\t{{.Driver}}")), &vols()),
            "data\tlocal\na-much-longer-name\tlocal\n"
        );
        assert_eq!(
            report(r(Some("table {{.Name}}")), &vols()[..1]),
            "VOLUME NAME\ndata\n"
        );
        let json = report(r(Some("json")), &vols()[..1]);
        assert_eq!(
            json,
            "[\n  {\n    \"Name\": \"data\",\n    \"Driver\": \"local\"\n  }\n]\n"
        );
        assert!(r(Some("{{json .}}")).is_json());
        assert_eq!(
            report(r(Some("json")).json_indent(b"    "), &vols()[..0]),
            "[]\n"
        );
        assert!(Report::list(Some("{{.Name"), T).is_err());
    }

    #[test]
    fn an_inspect_report_is_json_unless_given_a_template() {
        let r = |f: Option<&str>| Report::inspect(f).unwrap();
        assert!(r(None).is_json() && r(Some("")).is_json() && r(Some("json")).is_json());
        assert_eq!(
            report(r(None), &vols()[..1]),
            "[\n     {\n          \"Name\": \"data\",\n          \"Driver\": \"local\"\n     }\n]\n"
        );
        assert_eq!(
            report(r(Some("table {{.Name}}")), &vols()),
            "data\na-much-longer-name\n"
        );
    }

    #[test]
    fn a_report_knows_which_fields_its_template_names() {
        let r = Report::list(Some("{{.Name}} {{json .Labels.x}}"), "").unwrap();
        assert!(r.mentions("Labels") && r.mentions("Name") && !r.mentions("Driver"));
        assert!(Report::list(Some("json"), "").unwrap().mentions("Driver"));
    }

    #[test]
    fn cells_make_a_table() {
        let mut out = Vec::new();
        write_cells(
            &mut out,
            Some(&["PID", "COMMAND"]),
            &[vec!["1".into(), "sleep 9".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PID         COMMAND\n1           sleep 9\n"
        );
    }

    #[test]
    fn podman_functions_pipelines_and_index() {
        let v = json!({"Labels": {"a.b": "x", "k": "v"}, "Names": ["n1", "n2"], "S": "hello world", "Id": "0123456789abcdef"});
        assert_eq!(r("{{index .Labels \"a.b\"}}", &v), "x");
        assert_eq!(r("{{index .Names 1}}", &v), "n2");
        assert_eq!(r("{{index .Labels \"nope\"}}", &v), "");
        assert_eq!(r("{{title .S}}", &v), "Hello World");
        assert_eq!(r("{{.S | upper}}", &v), "HELLO WORLD");
        assert_eq!(r("{{.S | printf \"%s!\"}}", &v), "hello world!");
        assert_eq!(r("{{truncate .Id 12}}", &v), "0123456789ab");
        assert_eq!(r("{{split .S \" \"}}", &v), "[hello world]");
        assert_eq!(r("{{join (split .S \" \") \",\"}}", &v), "hello,world");
        assert_eq!(r("[{{pad .Labels.k 1 2}}]", &v), "[ v  ]");
        assert_eq!(r("{{printf \"%-4s|%d\" .Labels.k 7}}", &v), "v   |7");
        assert_eq!(r("{{upper (index .Labels \"k\")}}", &v), "V");
        assert_eq!(r("{{json .Labels.k}}", &v), "\"v\"");
        assert_eq!(r("{{lower \"AB\"}}", &v), "ab");
        assert!(Template::parse("{{index}}").is_err());
        assert!(Template::parse("{{.S | nope}}").is_err());
        assert!(Template::parse("{{(.S}}").is_err());
        assert!(Template::parse("{{index .Names 5}}")
            .unwrap()
            .render(&v)
            .is_err());
        let t = Template::parse("table {{.S | upper}}").unwrap();
        assert_eq!(t.header(&|_| None), "S");
    }

    #[test]
    fn trim_markers() {
        assert_eq!(r("a  {{- .X -}}  b", &json!({"X": "x"})), "axb");
    }
}
