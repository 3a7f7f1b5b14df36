//! Kubernetes YAML in: a multi-document YAML stream read into JSON values
//! (what the typed models deserialize from), with bounds a hostile file
//! cannot get past.
//!
//! The events come from `yaml-rust2`'s parser, pulled one at a time; the
//! tree is built here on a heap stack (the crate's own loader recurses on
//! the thread's stack and clones every alias). So:
//! - nesting deeper than [`MAX_DEPTH`] is refused;
//! - an alias counts as every node and byte of what it names, and a file
//!   whose expansion passes [`MAX_NODES`] nodes or [`MAX_BYTES`] bytes is
//!   refused before the copy is made (the billion laughs);
//! - the text itself is at most [`MAX_INPUT`] bytes (the caller reads at
//!   most that much).
//!
//! Plain scalars are typed as YAML 1.2's core schema does (null, booleans,
//! integers, floats); quoted and block scalars, and `!!str`, are strings.

use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The most bytes of YAML read from a file or standard input.
pub const MAX_INPUT: usize = 16 << 20;
/// The most nested collections.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a file may expand to, aliases included.
pub const MAX_NODES: u64 = 500_000;
/// The most scalar bytes a file may expand to, aliases included.
pub const MAX_BYTES: u64 = 64 << 20;

/// One document of the stream: its number (from 1) and its value.
#[derive(Debug, Clone)]
pub struct Document {
    pub index: usize,
    /// The line of the document's first node.
    pub line: usize,
    pub value: Value,
}

enum Frame {
    Seq(Vec<Value>),
    /// The mapping, the key waiting for its value, and the keys that came
    /// from a merge (`<<`), which a key of the mapping's own overrides.
    Map(Map<String, Value>, Option<String>, Vec<String>),
}

/// A merge key's value (a mapping, or a list of them: the first wins)
/// into `map`, under the keys `map` has.
fn merge(
    map: &mut Map<String, Value>,
    merged: &mut Vec<String>,
    v: Value,
    m: &Marker,
) -> Result<()> {
    let sources = match v {
        Value::Object(o) => vec![o],
        Value::Array(a) => a
            .into_iter()
            .map(|x| match x {
                Value::Object(o) => Ok(o),
                _ => Err(at(m, "a merge key (<<) takes mappings")),
            })
            .collect::<Result<_>>()?,
        _ => return Err(at(m, "a merge key (<<) takes a mapping or a list of them")),
    };
    for o in sources {
        for (k, v) in o {
            if !map.contains_key(&k) {
                merged.push(k.clone());
                map.insert(k, v);
            }
        }
    }
    Ok(())
}

struct Open {
    frame: Frame,
    anchor: usize,
    nodes: u64,
    bytes: u64,
}

/// What an anchor names, and what it cost to build.
struct Anchored {
    value: Value,
    nodes: u64,
    bytes: u64,
}

struct Builder {
    stack: Vec<Open>,
    anchors: std::collections::HashMap<usize, Anchored>,
    nodes: u64,
    bytes: u64,
    root: Option<Value>,
}

fn at(m: &Marker, msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("line {}: {msg}", m.line())
}

impl Builder {
    fn charge(&mut self, nodes: u64, bytes: u64, m: &Marker) -> Result<()> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.nodes > MAX_NODES {
            return Err(at(
                m,
                format!(
                    "the YAML expands to more than {MAX_NODES} nodes (an alias bomb?): refused"
                ),
            ));
        }
        if self.bytes > MAX_BYTES {
            return Err(at(
                m,
                format!(
                    "the YAML expands to more than {} MiB of text (an alias bomb?): refused",
                    MAX_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    /// A finished node: into its parent, or the document's root.
    fn put(&mut self, v: Value, m: &Marker) -> Result<()> {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(v);
            return Ok(());
        };
        match &mut top.frame {
            Frame::Seq(items) => items.push(v),
            Frame::Map(map, key, merged) => match key.take() {
                None => {
                    let k = match v {
                        Value::String(s) => s,
                        Value::Null => "null".into(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(at(m, "a mapping key must be a scalar")),
                    };
                    if let Some(i) = merged.iter().position(|x| *x == k) {
                        // Its own key overrides a merged one.
                        merged.remove(i);
                        map.remove(&k);
                    } else if map.contains_key(&k) {
                        return Err(at(m, format!("mapping key {k:?} is defined twice")));
                    }
                    *key = Some(k);
                }
                Some(k) if k == "<<" => merge(map, merged, v, m)?,
                Some(k) => {
                    map.insert(k, v);
                }
            },
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, anchor: usize, m: &Marker) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(at(
                m,
                format!("nested deeper than {MAX_DEPTH} levels: refused"),
            ));
        }
        self.charge(1, 0, m)?;
        self.stack.push(Open {
            frame,
            anchor,
            nodes: self.nodes,
            bytes: self.bytes,
        });
        Ok(())
    }

    fn close(&mut self, m: &Marker) -> Result<()> {
        let o = self
            .stack
            .pop()
            .ok_or_else(|| at(m, "unbalanced collection end"))?;
        let v = match o.frame {
            Frame::Seq(items) => Value::Array(items),
            Frame::Map(map, None, _) => Value::Object(map),
            Frame::Map(_, Some(k), _) => {
                return Err(at(m, format!("mapping key {k:?} has no value")))
            }
        };
        if o.anchor != 0 {
            self.anchors.insert(
                o.anchor,
                Anchored {
                    value: v.clone(),
                    nodes: self.nodes - o.nodes + 1,
                    bytes: self.bytes - o.bytes,
                },
            );
        }
        self.put(v, m)
    }
}

/// A plain scalar's value under YAML 1.2's core schema.
fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let int = |digits: &str, radix: u32| -> Option<Value> {
        i64::from_str_radix(digits, radix)
            .ok()
            .map(|n| Value::Number(n.into()))
    };
    let looks_int = |t: &str| {
        let t = t.strip_prefix(['-', '+']).unwrap_or(t);
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
    };
    // A leading 0 is octal, as YAML 1.1 (and so Kubernetes, whose YAML
    // reader follows it) reads it: `defaultMode: 0400`.
    if let Some(o) = s.strip_prefix('0') {
        if !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Some(v) = int(o, 8) {
                return v;
            }
        }
    }
    if looks_int(s) {
        if let Some(v) = int(s.strip_prefix('+').unwrap_or(s), 10) {
            return v;
        }
    }
    if let Some(h) = s.strip_prefix("0x") {
        if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(v) = int(h, 16) {
                return v;
            }
        }
    }
    if let Some(o) = s.strip_prefix("0o") {
        if !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            if let Some(v) = int(o, 8) {
                return v;
            }
        }
    }
    let floaty = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && s.bytes().any(|b| b.is_ascii_digit());
    if floaty {
        if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

/// Every non-empty document of `text`, in order.
pub fn documents(text: &str) -> Result<Vec<Document>> {
    if text.len() > MAX_INPUT {
        bail!("the YAML is larger than {} MiB: refused", MAX_INPUT >> 20);
    }
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut b = Builder {
        stack: Vec::new(),
        anchors: Default::default(),
        nodes: 0,
        bytes: 0,
        root: None,
    };
    let mut index = 0;
    let mut line = 1;
    loop {
        let (ev, m) = parser
            .next_token()
            .map_err(|e| anyhow!("invalid YAML: {e}"))?;
        match ev {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart => {}
            Event::DocumentStart => {
                index += 1;
                line = m.line();
                b.root = None;
                b.stack.clear();
            }
            Event::DocumentEnd => {
                if let Some(v) = b.root.take() {
                    if !v.is_null() {
                        docs.push(Document {
                            index,
                            line,
                            value: v,
                        });
                    }
                }
            }
            Event::Alias(id) => {
                let (nodes, bytes) = match b.anchors.get(&id) {
                    Some(a) => (a.nodes, a.bytes),
                    None => return Err(at(&m, "an alias names no anchor")),
                };
                // The bill first: a bomb is refused before it is copied.
                b.charge(nodes, bytes, &m)?;
                let v = b.anchors[&id].value.clone();
                b.put(v, &m)?;
            }
            Event::Scalar(s, style, anchor, tag) => {
                b.charge(1, s.len() as u64, &m)?;
                let is_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let v = if style == TScalarStyle::Plain && !is_str {
                    plain(&s)
                } else {
                    Value::String(s)
                };
                if anchor != 0 {
                    let bytes = match &v {
                        Value::String(s) => s.len() as u64,
                        _ => 0,
                    };
                    b.anchors.insert(
                        anchor,
                        Anchored {
                            value: v.clone(),
                            nodes: 1,
                            bytes,
                        },
                    );
                }
                b.put(v, &m)?;
            }
            Event::SequenceStart(anchor, _) => b.open(Frame::Seq(Vec::new()), anchor, &m)?,
            Event::MappingStart(anchor, _) => {
                b.open(Frame::Map(Map::new(), None, Vec::new()), anchor, &m)?
            }
            Event::SequenceEnd | Event::MappingEnd => b.close(&m)?,
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_documents_and_types_scalars() {
        let d = documents(
            "a: 1\nb: \"1\"\nc: true\nd: ~\ne: [x, 'y', 1.5]\nf: 0x10\ng: 0400\nh: 0\n---\n---\nkind: Pod\n...\n",
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].value,
            json!({"a": 1, "b": "1", "c": true, "d": null, "e": ["x", "y", 1.5], "f": 16, "g": 256, "h": 0})
        );
        assert_eq!(d[1].index, 3);
        assert_eq!(d[1].value, json!({"kind": "Pod"}));
    }

    #[test]
    fn aliases_are_copies_within_bounds() {
        let d = documents("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(d[0].value, json!({"a": {"k": "v"}, "b": {"k": "v"}}));
    }

    #[test]
    fn merge_keys() {
        let d = documents(
            "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n  c: 4\ny:\n  a: 0\n  <<: [*b, {d: 5}]\n",
        )
        .unwrap();
        assert_eq!(d[0].value["x"], json!({"a": 1, "b": 3, "c": 4}));
        assert_eq!(d[0].value["y"], json!({"a": 0, "b": 2, "d": 5}));
    }

    #[test]
    fn refuses_a_billion_laughs() {
        let mut y = String::from(
            "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for i in 1..10 {
            let p = i - 1;
            y.push_str(&format!(
                "a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
            ));
        }
        let e = documents(&y).unwrap_err().to_string();
        assert!(e.contains("alias bomb"), "{e}");
        // A large scalar named many times is bounded by bytes too.
        let mut y = format!("s: &s \"{}\"\nl: [", "x".repeat(1 << 20));
        y.push_str(&vec!["*s"; 100].join(","));
        y.push_str("]\n");
        let e = documents(&y).unwrap_err().to_string();
        assert!(e.contains("MiB"), "{e}");
    }

    #[test]
    fn refuses_deep_nesting_and_duplicates() {
        // Flow collections: the scanner's own limit.
        let y = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = documents(&y).unwrap_err().to_string();
        assert!(e.contains("recursion limit"), "{e}");
        // Block collections: ours.
        let y: String = (0..2000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let e = documents(&y).unwrap_err().to_string();
        assert!(e.contains("nested deeper"), "{e}");
        let e = documents("a: 1\na: 2\n").unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
    }
}
