//! `rpod generate spec`: podman's SpecGenerator JSON of a container, or
//! PodSpecGenerator JSON of a pod (built by `container::specgen`), printed
//! as podman 4.3 prints it: indented by one space (or compact with -c),
//! `<`, `>` and `&` escaped as Go's encoder does, to stdout or a file.

use super::GlobalOpts;
use crate::container::specgen::{self, Generated};
use anyhow::{Context, Result};
use clap::{ArgAction, Args};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// Print the JSON on one line, for a program to read
    #[arg(short, long)]
    pub compact: bool,
    /// Write the JSON to this file (replaced if it exists) and print its path
    #[arg(short, long, value_name = "FILE")]
    pub filename: Option<PathBuf>,
    /// Name the spec for a copy, NAME-clone (--name=false keeps the name)
    #[arg(short, long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub name: bool,
    /// Container or pod name or id
    #[arg(value_name = "CONTAINER|POD")]
    pub target: String,
}

/// `value` as Go's encoding/json writes it: `indent` spaces per level (or
/// one line), with `<`, `>`, `&`, U+2028 and U+2029 escaped.
fn go_json<T: Serialize>(value: &T, compact: bool) -> Result<String> {
    let text = if compact {
        serde_json::to_string(value)?
    } else {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        value.serialize(&mut ser)?;
        String::from_utf8(buf)?
    };
    // These characters only occur inside strings in JSON, so replacing
    // them keeps it valid.
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

pub fn spec_cmd(g: &GlobalOpts, a: &SpecArgs) -> Result<()> {
    let spec = specgen::generate(&g.into(), &a.target, a.name)?;
    let text = match &spec {
        Generated::Container(s) => go_json(s, a.compact)?,
        Generated::Pod(s) => go_json(s, a.compact)?,
    };
    let mut out = std::io::stdout().lock();
    match &a.filename {
        Some(f) => {
            crate::storage::write_atomic(f, text.as_bytes())
                .with_context(|| format!("writing {}", f.display()))?;
            writeln!(out, "{}", f.display())?;
        }
        None => writeln!(out, "{text}")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_as_go_writes_it() {
        let v = serde_json::json!({"a": ["x<y>&z"], "b": {}});
        assert_eq!(
            go_json(&v, false).unwrap(),
            "{\n \"a\": [\n  \"x\\u003cy\\u003e\\u0026z\"\n ],\n \"b\": {}\n}"
        );
        assert_eq!(
            go_json(&v, true).unwrap(),
            "{\"a\":[\"x\\u003cy\\u003e\\u0026z\"],\"b\":{}}"
        );
    }
}
