//! A small YAML writer for the JSON values of typed Kubernetes objects:
//! block style, two-space indent, lists at their key's level (as kubectl
//! and podman write them), strings quoted whenever plain YAML would read
//! them as something else.

use serde_json::Value;

/// `v` as a YAML document (no `---`).
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0, false);
    out
}

fn is_scalar(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string as a plain scalar when that reads back as the same string,
/// else double-quoted (JSON escapes are YAML's too).
pub fn string(s: &str) -> String {
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    let numeric = s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with('.')
        || s.chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '_');
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_');
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c));
    if !reserved && !numeric && first_ok && safe && !s.ends_with(':') && !s.contains(": ") {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn pad(out: &mut String, n: usize) {
    out.push_str(&" ".repeat(n));
}

/// Write `v` at `indent`; `inline` when the first line continues a `- `.
fn write_value(out: &mut String, v: &Value, indent: usize, inline: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut first = true;
            for (k, val) in m {
                if !(first && inline) {
                    pad(out, indent);
                }
                first = false;
                out.push_str(&string(k));
                out.push(':');
                if is_scalar(val) {
                    out.push(' ');
                    out.push_str(&scalar(val));
                    out.push('\n');
                } else if val.is_array() {
                    out.push('\n');
                    write_value(out, val, indent, false);
                } else {
                    out.push('\n');
                    write_value(out, val, indent + 2, false);
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                pad(out, indent);
                out.push_str("- ");
                if is_scalar(item) {
                    out.push_str(&scalar(item));
                    out.push('\n');
                } else if item.is_array() {
                    out.push('\n');
                    write_value(out, item, indent + 2, false);
                } else {
                    write_value(out, item, indent + 2, true);
                }
            }
        }
        _ => {
            if !inline {
                pad(out, indent);
            }
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_yaml_with_safe_scalars() {
        let v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a", "command": ["sleep", "100"], "env": [{"name": "A", "value": "yes"}]}],
                     "resources": {}}});
        let y = to_string(&v);
        assert_eq!(
            y,
            "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    app: web\n  name: web\nspec:\n  containers:\n  - command:\n    - sleep\n    - \"100\"\n    env:\n    - name: A\n      value: \"yes\"\n    name: a\n  resources: {}\n"
        );
        assert_eq!(string("a: b"), "\"a: b\"");
        assert_eq!(string("-x"), "\"-x\"");
        assert_eq!(
            string("localhost:5000/alpine:latest"),
            "localhost:5000/alpine:latest"
        );
        assert_eq!(string("#c"), "\"#c\"");
    }
}
