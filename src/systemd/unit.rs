//! A unit file as ordered sections of `Key=Value` lines, and Exec= command
//! lines laid out as podman lays them out (one flag per continued line).

use super::quote_arg;

#[derive(Debug, Default, Clone)]
pub struct Unit {
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

impl Unit {
    pub fn add(&mut self, section: &str, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, kv)) => kv.push((key.to_string(), value)),
            None => self
                .sections
                .push((section.to_string(), vec![(key.to_string(), value)])),
        }
    }

    pub fn has(&self, section: &str, key: &str) -> bool {
        self.sections
            .iter()
            .any(|(s, kv)| s == section && kv.iter().any(|(k, _)| k == key))
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, (name, kv)) in self.sections.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in kv {
                out.push_str(&format!("{k}={v}\n"));
            }
        }
        out
    }
}

/// One word of an Exec= line: literal text (quoted and escaped as needed), or
/// text written as it is because it holds systemd specifiers (`%t/%n.ctr-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    Lit(String),
    Spec(String),
    /// Quoted against splitting, but specifiers and variables kept.
    User(String),
}

impl Word {
    fn render(&self) -> String {
        match self {
            Word::Lit(s) => quote_arg(s),
            Word::Spec(s) => s.clone(),
            Word::User(s) => super::quote_word(s),
        }
    }
}

pub fn lit(s: impl Into<String>) -> Word {
    Word::Lit(s.into())
}

pub fn spec(s: impl Into<String>) -> Word {
    Word::Spec(s.into())
}

pub fn user(s: impl Into<String>) -> Word {
    Word::User(s.into())
}

/// An Exec= value: `prefix` (e.g. "-" to ignore failure), the program and its
/// subcommand on the first line, then each group of words (a flag and its
/// value) on a continued line.
pub fn exec_line(prefix: &str, head: &[Word], groups: &[Vec<Word>]) -> String {
    let join = |ws: &[Word]| ws.iter().map(Word::render).collect::<Vec<_>>().join(" ");
    let mut s = String::from(prefix);
    s.push_str(&join(head));
    for g in groups.iter().filter(|g| !g.is_empty()) {
        s.push_str(" \\\n\t");
        s.push_str(&join(g));
    }
    s
}
