//! Parsing of `run`/`create` flag values into what the record and the spec
//! need: environment, mounts, entrypoint, signals, security options.
//! Everything here is checked before anything is created, with errors that
//! name the value at fault.

use super::record::MountRecord;
use anyhow::{bail, Context, Result};
use std::path::Path;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal by number, name, or SIG-name (`9`, `KILL`, `SIGKILL`,
/// `RTMIN+3`, `RTMAX-1`: podman's names), case-insensitive. rpod's one
/// signal parser: `run --stop-signal`, `kill`, and `rpod oci kill`.
pub fn parse_signal(s: &str) -> Result<i32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal {s:?}: numbers go from 1 to 64");
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().ok()?
        };
        let n = base + sign * off;
        (34..=64).contains(&n).then_some(n)
    };
    let parsed = if let Some(r) = name.strip_prefix("RTMIN") {
        rt(34, r.trim_start_matches('+'), 1)
    } else if let Some(r) = name.strip_prefix("RTMAX") {
        rt(64, r.trim_start_matches('-'), -1)
    } else {
        None
    };
    parsed.with_context(|| format!("invalid signal {s:?}"))
}

/// `--entrypoint`: a JSON array, or one string (empty: no entrypoint).
pub fn parse_entrypoint(s: &str) -> Vec<String> {
    if s.trim_start().starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(s) {
            return v;
        }
    }
    if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_string()]
    }
}

/// Set `KEY=VALUE` in `env`, replacing an earlier value of KEY.
pub fn env_set(env: &mut Vec<String>, kv: String) {
    let key = kv.split('=').next().unwrap_or("").to_string();
    if let Some(slot) = env
        .iter_mut()
        .find(|e| e.split('=').next() == Some(key.as_str()))
    {
        *slot = kv;
    } else {
        env.push(kv);
    }
}

pub fn env_has(env: &[String], key: &str) -> bool {
    env.iter().any(|e| e.split('=').next() == Some(key))
}

/// One `-e`/`--env-file` entry: `KEY=VALUE`, or `KEY` taken from `host`
/// (skipped when unset there).
fn env_entry(entry: &str, host: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>> {
    if entry.is_empty() || entry.starts_with('=') {
        bail!("invalid environment variable {entry:?}: expected KEY=VALUE or KEY");
    }
    if entry.contains('=') {
        return Ok(Some(entry.to_string()));
    }
    Ok(host(entry).map(|v| format!("{entry}={v}")))
}

/// The container's environment: image, then `--env-host`, `--env-file`, `-e`.
pub fn build_env(
    image_env: &[String],
    env_host: bool,
    env_files: &[std::path::PathBuf],
    env: &[String],
    host: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for e in image_env {
        env_set(&mut out, e.clone());
    }
    if !env_has(&out, "PATH") {
        env_set(&mut out, format!("PATH={DEFAULT_PATH}"));
    }
    if env_host {
        for (k, v) in std::env::vars() {
            // The host's PATH/HOME/HOSTNAME would mislead inside.
            if !matches!(k.as_str(), "PATH" | "HOME" | "HOSTNAME" | "NOTIFY_SOCKET") {
                env_set(&mut out, format!("{k}={v}"));
            }
        }
    }
    for f in env_files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading env file {}", f.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let kv =
                env_entry(line, host).with_context(|| format!("{} line {}", f.display(), i + 1))?;
            if let Some(kv) = kv {
                env_set(&mut out, kv);
            }
        }
    }
    for e in env {
        if let Some(kv) = env_entry(e, host)? {
            env_set(&mut out, kv);
        }
    }
    Ok(out)
}

/// `--label KEY=VALUE` (a bare KEY is an empty value, as podman does).
pub fn parse_labels(labels: &[String]) -> Result<Vec<(String, String)>> {
    labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if k.is_empty() {
                bail!("invalid label {l:?}: expected KEY=VALUE");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

fn check_source(src: &str) -> Result<()> {
    if !Path::new(src).is_absolute() {
        bail!("invalid bind source {src:?}: give an absolute host path");
    }
    // podman's wording, which users search for.
    if let Err(e) = std::fs::metadata(src) {
        if e.kind() == std::io::ErrorKind::NotFound {
            bail!("statfs {src}: no such file or directory");
        }
        bail!("statfs {src}: {e}");
    }
    Ok(())
}

fn check_target(dst: &str, what: &str) -> Result<()> {
    if !dst.starts_with('/') {
        bail!("invalid {what} destination {dst:?}: it must be an absolute path in the container");
    }
    Ok(())
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// A host path (`/x`, `./x`, `../x`) rather than a volume name, as podman tells them.
fn is_host_path(src: &str) -> bool {
    src.starts_with('/') || src.starts_with('.')
}

/// The options podman shows on every volume mount.
fn volume_defaults(options: &mut Vec<String>) {
    for d in ["nosuid", "nodev", "rbind"] {
        if !options.iter().any(|o| o == d) {
            options.push(d.to_string());
        }
    }
}

/// `-v HOST:CTR[:OPTS]` (a bind mount), `-v NAME:CTR[:OPTS]` (a named
/// volume, made on first use) or `-v CTR` (a new anonymous volume).
pub fn parse_volume(v: &str) -> Result<MountRecord> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => bail!("invalid volume {v:?}: expected [SOURCE:]CONTAINER[:OPTIONS]"),
    };
    if src.is_empty() && parts.len() > 1 {
        bail!("invalid volume {v:?}: empty source");
    }
    check_target(dst, "volume")?;
    let volume = !is_host_path(src);
    let mut options: Vec<String> = Vec::new();
    let mut rw = true;
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            // SELinux relabelling: nothing to do without SELinux.
            "z" | "Z" => {}
            "U" => options.push("U".into()),
            "nocopy" | "copy" if volume => options.push(o.into()),
            "O" if !volume => options.push("O".into()),
            "O" => bail!(
                "invalid volume option \"O\" in {v:?}: overlay mounts take a host directory, not a volume"
            ),
            p if PROPAGATIONS.contains(&p) => options.push(p.to_string()),
            "nosuid" | "nodev" | "noexec" | "suid" | "dev" | "exec" => options.push(o.to_string()),
            _ => bail!(
                "invalid volume option {o:?} in {v:?}: use ro, rw, z, Z, U, nocopy or a propagation mode"
            ),
        }
    }
    if volume {
        if !src.is_empty() {
            crate::volume::validate_name(src)?;
        }
        volume_defaults(&mut options);
        return Ok(MountRecord {
            kind: "volume".into(),
            name: src.into(),
            destination: dst.into(),
            options,
            rw,
            ..Default::default()
        });
    }
    let src = std::path::absolute(src)
        .with_context(|| format!("invalid volume {v:?}"))?
        .to_string_lossy()
        .into_owned();
    check_source(&src)?;
    if options.iter().any(|o| o == "O") && src.contains([',', ':', '\\']) {
        bail!("invalid volume {v:?}: an overlay (:O) source may not contain ',', ':' or '\\'");
    }
    options.insert(0, "rbind".to_string());
    options.push(if rw { "rw" } else { "ro" }.to_string());
    Ok(MountRecord {
        kind: "bind".into(),
        source: src,
        destination: dst.into(),
        options,
        rw,
        ..Default::default()
    })
}

/// `subpath=REL`: relative, without `..` (resolution would keep it inside
/// anyway; saying so is clearer).
fn subpath_option(v: &str, m: &str) -> Result<String> {
    let p = std::path::Path::new(v);
    if v.is_empty()
        || p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("invalid --mount {m:?}: subpath {v:?} must be a relative path inside the source, without ..");
    }
    Ok(format!("{}{v}", crate::runtime::mounts::SUBPATH))
}

/// `--mount type=bind|volume|tmpfs,…`.
pub fn parse_mount(m: &str) -> Result<MountRecord> {
    let mut kind = None;
    let mut src = None;
    let mut dst = None;
    let mut rw = true;
    let mut recursive = true;
    let mut options: Vec<String> = Vec::new();
    let flag = |v: &str| matches!(v, "" | "true" | "1");
    for kv in m.split(',') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "type" => kind = Some(v.to_string()),
            "source" | "src" => src = Some(v.to_string()),
            "target" | "destination" | "dst" => dst = Some(v.to_string()),
            "ro" | "readonly" => rw = !flag(v),
            "rw" => rw = flag(v),
            "bind-propagation" if PROPAGATIONS.contains(&v) => options.push(v.into()),
            "bind-nonrecursive" => recursive = !flag(v),
            "tmpfs-size" => options.push(format!("size={v}")),
            "tmpfs-mode" => options.push(format!("mode={v}")),
            "tmpcopyup" | "notmpcopyup" => {}
            "volume-opt" if v.contains('=') => options.push(format!("volume-opt={v}")),
            "volume-nocopy" | "nocopy" if flag(v) => options.push("nocopy".into()),
            "U" | "chown" if flag(v) => options.push("U".into()),
            "U" | "chown" | "volume-nocopy" | "nocopy" => {}
            "relabel" | "z" | "Z" | "consistency" => {}
            "suid" | "nosuid" | "dev" | "nodev" | "exec" | "noexec" => options.push(k.into()),
            // podman 5's: only this part of the volume (or bind source).
            "subpath" | "volume-subpath" => options.push(subpath_option(v, m)?),
            _ => bail!("invalid --mount option {kv:?} in {m:?}"),
        }
    }
    let dst = dst.with_context(|| format!("invalid --mount {m:?}: target= is required"))?;
    check_target(&dst, "mount")?;
    match kind.as_deref() {
        Some("bind") => {
            let src = src.with_context(|| format!("invalid --mount {m:?}: source= is required"))?;
            check_source(&src)?;
            options.insert(0, if recursive { "rbind" } else { "bind" }.into());
            options.push(if rw { "rw" } else { "ro" }.into());
            Ok(MountRecord {
                kind: "bind".into(),
                source: src,
                destination: dst,
                options,
                rw,
                ..Default::default()
            })
        }
        Some("volume") => {
            let name = src.unwrap_or_default();
            if !name.is_empty() {
                crate::volume::validate_name(&name)?;
            }
            volume_defaults(&mut options);
            // A part of a volume is not where the image's content goes.
            if crate::runtime::mounts::subpath_of(&options).is_some()
                && !options.iter().any(|o| o == "nocopy")
            {
                options.push("nocopy".into());
            }
            Ok(MountRecord {
                kind: "volume".into(),
                name,
                destination: dst,
                options,
                rw,
                ..Default::default()
            })
        }
        Some("tmpfs") if crate::runtime::mounts::subpath_of(&options).is_some() => {
            bail!("invalid --mount {m:?}: subpath is for bind and volume mounts")
        }
        Some("tmpfs") => {
            options.extend(["nosuid".to_string(), "nodev".to_string()]);
            options.push(if rw { "rw" } else { "ro" }.into());
            Ok(MountRecord {
                kind: "tmpfs".into(),
                source: "tmpfs".into(),
                destination: dst,
                options,
                rw,
                ..Default::default()
            })
        }
        Some(t) => {
            bail!("invalid --mount type {t:?} in {m:?}: bind, volume and tmpfs are supported")
        }
        None => bail!("invalid --mount {m:?}: type= is required"),
    }
}

/// `--tmpfs DIR[:OPTS]` (podman's defaults: rw,noexec,nosuid,nodev).
pub fn parse_tmpfs(t: &str) -> Result<MountRecord> {
    let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
    check_target(dst, "tmpfs")?;
    let mut options: Vec<String> = if opts.is_empty() {
        vec![
            "rw".into(),
            "noexec".into(),
            "nosuid".into(),
            "nodev".into(),
        ]
    } else {
        opts.split(',').map(String::from).collect()
    };
    let rw = !options.iter().any(|o| o == "ro");
    if !options.iter().any(|o| o == "rw" || o == "ro") {
        options.push("rw".into());
    }
    Ok(MountRecord {
        kind: "tmpfs".into(),
        source: "tmpfs".into(),
        destination: dst.into(),
        options,
        rw,
        ..Default::default()
    })
}

/// What `--security-opt` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    /// None: the default profile; Some("unconfined"); Some(path).
    pub seccomp: Option<String>,
    pub no_new_privileges: bool,
    pub mask: Vec<String>,
    pub unmask: Vec<String>,
}

pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts> {
    let mut s = SecurityOpts::default();
    for o in opts {
        let (k, v) = o
            .split_once('=')
            .or_else(|| o.split_once(':'))
            .unwrap_or((o.as_str(), ""));
        match k {
            "seccomp" => {
                if v.is_empty() {
                    bail!("invalid --security-opt {o:?}: seccomp=unconfined or seccomp=PROFILE.json");
                }
                if v != "unconfined" {
                    std::fs::metadata(v)
                        .with_context(|| format!("--security-opt seccomp: reading profile {v}"))?;
                }
                s.seccomp = Some(v.to_string());
            }
            "no-new-privileges" => {
                s.no_new_privileges = matches!(v, "" | "true" | "1");
            }
            "mask" => s.mask.extend(v.split(':').filter(|p| !p.is_empty()).map(String::from)),
            "unmask" => s.unmask.extend(v.split(':').filter(|p| !p.is_empty()).map(String::from)),
            // No SELinux or AppArmor here: accepted, as podman accepts them where not enabled.
            "label" | "apparmor" | "proc-opts" => {}
            _ => bail!(
                "invalid --security-opt {o:?}: use seccomp=, no-new-privileges, mask=, unmask=, label= or apparmor="
            ),
        }
    }
    Ok(s)
}

/// `--userns`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Userns {
    /// rpod's user namespace (0 -> you, 1.. -> subuids).
    #[default]
    Default,
    /// Same as the default for rootless: there is no other "host" we can use.
    Host,
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
    },
}

pub fn parse_userns(v: Option<&str>) -> Result<Userns> {
    let Some(v) = v else {
        return Ok(Userns::Default);
    };
    let (mode, opts) = v.split_once(':').unwrap_or((v, ""));
    match mode {
        "" => Ok(Userns::Default),
        "host" => Ok(Userns::Host),
        "keep-id" => {
            let mut uid = None;
            let mut gid = None;
            for o in opts.split(',').filter(|o| !o.is_empty()) {
                let (k, n) = o.split_once('=').with_context(|| {
                    format!("invalid --userns option {o:?}: use uid=N or gid=N")
                })?;
                let n: u32 = n
                    .parse()
                    .with_context(|| format!("invalid --userns option {o:?}: not a number"))?;
                match k {
                    "uid" => uid = Some(n),
                    "gid" => gid = Some(n),
                    _ => bail!("invalid --userns option {o:?}: use uid=N or gid=N"),
                }
            }
            Ok(Userns::KeepId { uid, gid })
        }
        "nomap" | "auto" | "ns" | "private" => bail!(
            "--userns {v:?} is not supported by rpod: its runtime needs your own id mapped into the \
             container; use keep-id[:uid=N,gid=N], host, or --uidmap/--gidmap including your id"
        ),
        _ => bail!("invalid --userns {v:?}: use keep-id[:uid=N,gid=N] or host"),
    }
}

/// `--memory` in bytes (b, k, m, g suffixes, as podman).
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.trim_end_matches('b').chars().last() {
        Some('k') => (&t[..t.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&t[..t.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (t.trim_end_matches('b'), 1),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid size {s:?}: use a number with b, k, m or g"))?;
    if n < 0.0 {
        bail!("invalid size {s:?}: negative");
    }
    Ok((n * mult as f64) as i64)
}

/// The catatonit binary for `--init`.
pub fn find_catatonit() -> Result<std::path::PathBuf> {
    for p in [
        "/usr/libexec/podman/catatonit",
        "/usr/bin/catatonit",
        "/usr/local/bin/catatonit",
    ] {
        if Path::new(p).is_file() {
            return Ok(p.into());
        }
    }
    bail!("--init needs catatonit: install the \"catatonit\" package")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("RTMAX").unwrap(), 64);
        assert_eq!(parse_signal("RTMAX-2").unwrap(), 62);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn entrypoints() {
        assert_eq!(
            parse_entrypoint("[\"/bin/sh\",\"-c\"]"),
            vec!["/bin/sh", "-c"]
        );
        assert_eq!(parse_entrypoint("/bin/echo hi"), vec!["/bin/echo hi"]);
        assert!(parse_entrypoint("").is_empty());
    }

    #[test]
    fn environment_layers() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("e");
        std::fs::write(&f, "# c\nA=file\nFROMHOST\n\nB=file\n").unwrap();
        let host = |k: &str| (k == "FROMHOST").then(|| "h".to_string());
        let env = build_env(
            &["A=img".into(), "EMPTY=".into()],
            false,
            &[f],
            &["B=flag".into(), "UNSET".into()],
            &host,
        )
        .unwrap();
        assert_eq!(
            env,
            vec![
                "A=file".to_string(),
                "EMPTY=".into(),
                format!("PATH={DEFAULT_PATH}"),
                "FROMHOST=h".into(),
                "B=flag".into()
            ]
        );
        assert!(build_env(&[], false, &[], &["=x".into()], &host).is_err());
    }

    #[test]
    fn volumes_and_mounts() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().to_str().unwrap();
        let m = parse_volume(&format!("{src}:/data:ro,z")).unwrap();
        assert_eq!(m.destination, "/data");
        assert!(!m.rw);
        assert!(m.options.contains(&"ro".to_string()));
        let e = parse_volume("/no/such/dir:/x").unwrap_err().to_string();
        assert_eq!(e, "statfs /no/such/dir: no such file or directory");
        let a = parse_volume("/x").unwrap();
        assert_eq!((a.kind.as_str(), a.name.as_str()), ("volume", ""));
        let n = parse_volume("data:/d:U,nocopy,ro").unwrap();
        assert_eq!(
            (n.kind.as_str(), n.name.as_str(), n.rw),
            ("volume", "data", false)
        );
        assert!(n.options.contains(&"U".to_string()) && n.options.contains(&"nocopy".to_string()));
        assert!(parse_volume("../x:/d").is_err());
        assert!(parse_volume("a b:/d").is_err());
        assert!(parse_volume(&format!("{src}:rel")).is_err());
        let b = parse_mount(&format!("type=bind,src={src},dst=/b,bind-nonrecursive")).unwrap();
        assert_eq!(b.options[0], "bind");
        let v = parse_mount("type=volume,src=v1,dst=/v,volume-opt=o=uid=5,ro").unwrap();
        assert_eq!((v.name.as_str(), v.rw), ("v1", false));
        assert!(v.options.contains(&"volume-opt=o=uid=5".to_string()));
        let m = parse_mount(&format!("type=bind,src={src},target=/t,readonly")).unwrap();
        assert!(!m.rw);
        let t = parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1m").unwrap();
        assert_eq!(t.kind, "tmpfs");
        assert!(t.options.contains(&"size=1m".to_string()));
        assert!(parse_mount("type=volume,src=../x,target=/x").is_err());
        assert!(parse_mount("type=image,target=/x").is_err());
        assert!(parse_mount("type=bind,target=/x").is_err());
        let t = parse_tmpfs("/run").unwrap();
        assert_eq!(t.options, vec!["rw", "noexec", "nosuid", "nodev"]);
    }

    #[test]
    fn security_and_userns() {
        let s = parse_security_opts(&["no-new-privileges".into(), "seccomp=unconfined".into()])
            .unwrap();
        assert!(s.no_new_privileges);
        assert_eq!(s.seccomp.as_deref(), Some("unconfined"));
        assert!(parse_security_opts(&["seccomp=/no/such.json".into()]).is_err());
        assert!(parse_security_opts(&["bogus=1".into()]).is_err());
        assert_eq!(
            parse_userns(Some("keep-id:uid=1000,gid=100")).unwrap(),
            Userns::KeepId {
                uid: Some(1000),
                gid: Some(100)
            }
        );
        assert!(parse_userns(Some("auto")).is_err());
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert!(parse_bytes("lots").is_err());
    }
}
