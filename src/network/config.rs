//! The `[network]` and `[engine]` settings of containers.conf that rootless
//! networking reads, in podman's order: the vendor file, the admin file and
//! its drop-ins, then the user's file; later files override earlier keys.
//! `$CONTAINERS_CONF` replaces the whole list, and `$CONTAINERS_CONF_OVERRIDE`
//! is read after all of them, as in podman.

use anyhow::{bail, Context, Result};

/// What rootless networking takes from containers.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetConfig {
    /// `[network] default_rootless_network_cmd`: "slirp4netns" or "pasta".
    pub default_rootless_network_cmd: Option<String>,
    /// `[engine] network_cmd_options`: default slirp4netns options.
    pub network_cmd_options: Vec<String>,
    /// `[engine] network_cmd_path`: the slirp4netns binary to use.
    pub network_cmd_path: Option<String>,
}

/// The settings from the files podman reads (see `crate::conf`).
pub fn load() -> Result<NetConfig> {
    let mut c = NetConfig::default();
    for (f, t) in crate::conf::tables()? {
        merge(&mut c, t).with_context(|| format!("parsing {}", f.display()))?;
    }
    Ok(c)
}

fn merge(c: &mut NetConfig, v: &toml::Table) -> Result<()> {
    let str_of = |t: &toml::Table, k: &str| -> Result<Option<String>> {
        match t.get(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bail!("{k} must be a string"),
        }
    };
    if let Some(toml::Value::Table(n)) = v.get("network") {
        if let Some(cmd) = str_of(n, "default_rootless_network_cmd")? {
            if !matches!(cmd.as_str(), "slirp4netns" | "pasta") {
                bail!(
                    "default_rootless_network_cmd = {cmd:?}: must be \"slirp4netns\" or \"pasta\""
                );
            }
            c.default_rootless_network_cmd = Some(cmd);
        }
    }
    if let Some(toml::Value::Table(e)) = v.get("engine") {
        if let Some(p) = str_of(e, "network_cmd_path")? {
            c.network_cmd_path = Some(p).filter(|p| !p.is_empty());
        }
        match e.get("network_cmd_options") {
            None => {}
            Some(toml::Value::Array(a)) => {
                c.network_cmd_options = a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(String::from)
                            .context("network_cmd_options must be a list of strings")
                    })
                    .collect::<Result<_>>()?;
            }
            Some(_) => bail!("network_cmd_options must be a list of strings"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(c: &mut NetConfig, text: &str) -> Result<()> {
        super::merge(c, &text.parse()?)
    }

    #[test]
    fn later_files_override() {
        let mut c = NetConfig::default();
        merge(
            &mut c,
            "[network]\ndefault_rootless_network_cmd = \"pasta\"\n[engine]\nnetwork_cmd_options = [\"mtu=1500\"]\n",
        )
        .unwrap();
        assert_eq!(c.default_rootless_network_cmd.as_deref(), Some("pasta"));
        assert_eq!(c.network_cmd_options, vec!["mtu=1500".to_string()]);
        merge(
            &mut c,
            "[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n[containers]\nx = 1\n",
        )
        .unwrap();
        assert_eq!(
            c.default_rootless_network_cmd.as_deref(),
            Some("slirp4netns")
        );
        assert_eq!(c.network_cmd_options, vec!["mtu=1500".to_string()]);
    }

    #[test]
    fn bad_values_are_errors() {
        let mut c = NetConfig::default();
        assert!(merge(
            &mut c,
            "[network]\ndefault_rootless_network_cmd = \"vpnkit\"\n"
        )
        .is_err());
        assert!(merge(&mut c, "[network]\ndefault_rootless_network_cmd = 3\n").is_err());
        assert!(merge(&mut c, "[network\n").is_err());
        assert!(merge(&mut c, "[engine]\nnetwork_cmd_options = \"x\"\n").is_err());
    }
}
