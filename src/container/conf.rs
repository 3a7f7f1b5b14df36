//! The `[containers]` and `[engine]` defaults of containers.conf that `run`
//! and `create` take, read from the same files as podman (and as
//! `crate::network::config`, whose list of files this uses): later files
//! override the keys they set. A flag on the command line wins over the
//! file; `env` sits below the image's environment, as in podman.

use anyhow::{bail, Context, Result};

/// What a new container takes from containers.conf (None / empty: not set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtrDefaults {
    /// `[containers] env`: KEY=VALUE, below the image's and the user's.
    pub env: Vec<String>,
    /// `[containers] tz`: as --tz.
    pub tz: Option<String>,
    /// `[containers] umask`: as --umask.
    pub umask: Option<String>,
    /// `[containers] init`: as --init.
    pub init: bool,
    /// `[containers] no_hosts`: as --no-hosts.
    pub no_hosts: bool,
    /// `[containers] read_only`: as --read-only.
    pub read_only: bool,
    /// `[containers] shm_size`: as --shm-size.
    pub shm_size: Option<String>,
    /// `[containers] log_driver`: as --log-driver.
    pub log_driver: Option<String>,
    /// `[containers] log_size_max`: bytes, as --log-opt max-size (negative: no limit).
    pub log_size_max: Option<i64>,
    /// `[containers] annotations`: KEY=VALUE, before --annotation.
    pub annotations: Vec<String>,
    /// `[containers] volumes`: SRC:DEST[:OPTIONS], added to every container.
    pub volumes: Vec<String>,
    /// `[containers] dns_servers`, `dns_searches`, `dns_options`: as --dns,
    /// --dns-search and --dns-option when none is given.
    pub dns_servers: Vec<String>,
    pub dns_searches: Vec<String>,
    pub dns_options: Vec<String>,
    /// `[engine] stop_timeout`: seconds, as --stop-timeout.
    pub stop_timeout: Option<u32>,
}

/// Read every containers.conf file that exists, in podman's order.
pub fn load() -> Result<CtrDefaults> {
    let mut c = CtrDefaults::default();
    for f in crate::network::config::files() {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", f.display())),
        };
        merge(&mut c, &text).with_context(|| format!("parsing {}", f.display()))?;
    }
    Ok(c)
}

/// The text with its comment lines blanked (line numbers stay): podman's
/// vendor file is 24 KB of comments, and skipping them here keeps reading
/// it well under a millisecond.
fn uncommented(text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 8);
    for line in text.lines() {
        if !line.trim_start().starts_with('#') {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn merge(c: &mut CtrDefaults, text: &str) -> Result<()> {
    let v: toml::Table = uncommented(text).parse()?;
    if let Some(t) = v.get("containers") {
        let t = t.as_table().context("[containers] must be a table")?;
        let k = Keys(t, "containers");
        k.list("env", &mut c.env)?;
        k.string("tz", &mut c.tz)?;
        k.string("umask", &mut c.umask)?;
        k.boolean("init", &mut c.init)?;
        k.boolean("no_hosts", &mut c.no_hosts)?;
        k.boolean("read_only", &mut c.read_only)?;
        k.string("shm_size", &mut c.shm_size)?;
        k.string("log_driver", &mut c.log_driver)?;
        if let Some(n) = k.int("log_size_max")? {
            c.log_size_max = Some(n);
        }
        k.list("annotations", &mut c.annotations)?;
        k.list("volumes", &mut c.volumes)?;
        k.list("dns_servers", &mut c.dns_servers)?;
        k.list("dns_searches", &mut c.dns_searches)?;
        k.list("dns_options", &mut c.dns_options)?;
    }
    if let Some(t) = v.get("engine") {
        let t = t.as_table().context("[engine] must be a table")?;
        if let Some(n) = Keys(t, "engine").int("stop_timeout")? {
            c.stop_timeout = Some(
                u32::try_from(n)
                    .map_err(|_| anyhow::anyhow!("[engine] stop_timeout = {n}: out of range"))?,
            );
        }
    }
    Ok(())
}

/// One table's keys, each checked for its type.
struct Keys<'a>(&'a toml::Table, &'a str);

impl Keys<'_> {
    fn string(&self, k: &str, out: &mut Option<String>) -> Result<()> {
        match self.0.get(k) {
            None => {}
            Some(toml::Value::String(s)) => *out = Some(s.clone()).filter(|s| !s.is_empty()),
            Some(_) => bail!("[{}] {k} must be a string", self.1),
        }
        Ok(())
    }
    fn boolean(&self, k: &str, out: &mut bool) -> Result<()> {
        match self.0.get(k) {
            None => {}
            Some(toml::Value::Boolean(b)) => *out = *b,
            Some(_) => bail!("[{}] {k} must be true or false", self.1),
        }
        Ok(())
    }
    fn int(&self, k: &str) -> Result<Option<i64>> {
        match self.0.get(k) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) => Ok(Some(*n)),
            Some(_) => bail!("[{}] {k} must be a number", self.1),
        }
    }
    fn list(&self, k: &str, out: &mut Vec<String>) -> Result<()> {
        match self.0.get(k) {
            None => {}
            Some(toml::Value::Array(a)) => {
                *out = a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(String::from)
                            .with_context(|| format!("[{}] {k} must be a list of strings", self.1))
                    })
                    .collect::<Result<_>>()?;
            }
            Some(_) => bail!("[{}] {k} must be a list of strings", self.1),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_types() {
        let mut c = CtrDefaults::default();
        merge(
            &mut c,
            "[containers]\nenv = [\"A=1\"]\ntz = \"UTC\"\ninit = true\nlog_size_max = 4096\n\
             unknown_key = 3\n[engine]\nstop_timeout = 3\nnum_locks = 2048\n",
        )
        .unwrap();
        assert_eq!(c.env, ["A=1"]);
        assert_eq!(c.tz.as_deref(), Some("UTC"));
        assert!(c.init);
        assert_eq!(c.log_size_max, Some(4096));
        assert_eq!(c.stop_timeout, Some(3));
        // A later file overrides what it sets only.
        merge(&mut c, "[containers]\ntz = \"local\"\n").unwrap();
        assert_eq!(c.tz.as_deref(), Some("local"));
        assert_eq!(c.env, ["A=1"]);
        let e = merge(&mut c, "[containers]\ninit = \"yes\"\n").unwrap_err();
        assert_eq!(e.to_string(), "[containers] init must be true or false");
        let e = merge(&mut c, "[containers]\nenv = \"A=1\"\n").unwrap_err();
        assert!(e.to_string().contains("env must be a list of strings"));
        assert!(merge(&mut c, "[containers\n").is_err());
    }

    #[test]
    fn comments_are_blanked_and_lines_kept() {
        assert_eq!(
            uncommented("# a\n[x]\n  # b\nk = 1 # c\n"),
            "\n[x]\n\nk = 1 # c\n"
        );
        let mut c = CtrDefaults::default();
        let e = merge(&mut c, "# one\n# two\n[containers\n").unwrap_err();
        assert!(format!("{e:#}").contains("line 3"), "{e:#}");
    }
}
