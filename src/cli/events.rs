//! `rpod events` (and `rpod system events`): flags, and the lines podman
//! prints; the reading and following are `crate::events`'.

use super::format::{is_json, Template};
use super::GlobalOpts;
use crate::events::{self, Filters, ReadOptions};
use anyhow::{Context, Result};
use clap::ArgAction;
use std::io::Write;

#[derive(clap::Args, Debug, Clone)]
pub struct EventsArgs {
    /// Only events that match: container=, event=, image=, label=KEY=VALUE,
    /// pod=, type=, volume= (the same key OR'ed, different keys AND'ed)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Print each event as JSON (json) or through a Go template
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not truncate ids (the default; --no-trunc=false cuts them to 12 characters)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true",
          default_missing_value = "true", action = ArgAction::Set)]
    pub no_trunc: bool,
    /// Show events since this time: RFC 3339, a Unix timestamp, or a duration before now (10m)
    #[arg(long, value_name = "TIMESTAMP")]
    pub since: Option<String>,
    /// Show events until this time (same forms as --since)
    #[arg(long, value_name = "TIMESTAMP")]
    pub until: Option<String>,
    /// Follow new events as they happen (--stream=false: print what is there and exit)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true",
          default_missing_value = "true", action = ArgAction::Set)]
    pub stream: bool,
}

enum Out {
    Human(bool),
    Json,
    Template(Template),
}

pub fn events_cmd(g: &GlobalOpts, a: &EventsArgs) -> Result<()> {
    let now = crate::time::now_ns();
    let since = a
        .since
        .as_deref()
        .map(|s| crate::time::parse_time_arg(s, now))
        .transpose()
        .context("--since")?;
    let until = a
        .until
        .as_deref()
        .map(|s| crate::time::parse_time_arg(s, now))
        .transpose()
        .context("--until")?;
    let filters = Filters::parse(&a.filter)?;
    let out = match a.format.as_deref() {
        None => Out::Human(!a.no_trunc),
        Some(f) if f.trim().is_empty() => Out::Human(!a.no_trunc),
        Some(f) if is_json(f) => Out::Json,
        Some(f) => Out::Template(Template::parse(f)?),
    };
    let runroot = match &g.runroot {
        Some(r) => std::path::absolute(r).with_context(|| format!("--runroot {}", r.display()))?,
        None => crate::storage::default_runroot()?,
    };
    let Some(path) = events::reader_path(&runroot)? else {
        // events_logger = "none": there is nothing to read, ever.
        return Ok(());
    };
    let o = ReadOptions {
        filters,
        since,
        until,
        stream: a.stream,
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    // A follower sees each event as it comes; a one-off read is buffered.
    let flush_each = a.stream;
    let mut line = String::new();
    events::read(&path, &o, &mut |e| {
        line.clear();
        match &out {
            Out::Human(trunc) => e.write_human(*trunc, &mut line),
            Out::Json => line.push_str(&e.to_json()),
            Out::Template(t) => line.push_str(&t.render(&e.template_value())?),
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
        if flush_each {
            w.flush()?;
        }
        Ok(true)
    })?;
    w.flush()?;
    Ok(())
}
