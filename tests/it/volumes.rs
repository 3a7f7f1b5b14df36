//! Volumes: `rpod volume …`, `-v NAME:/path`, anonymous volumes, `--mount
//! type=volume|bind|tmpfs`, `--volumes-from`, image VOLUMEs, copy-up, `:U`,
//! `rm -v`; and attacks on them: hostile images whose volume paths are
//! symlinks to the host, hostile archives for `volume import`, hostile names.

use crate::common::{
    assert_clean, env_with_alpine, err, new_env, push_image, store_root, Env, Reaper,
};
use std::path::{Path, PathBuf};

fn data_dir(env: &Env, name: &str) -> PathBuf {
    store_root(env).join("volumes").join(name).join("_data")
}

fn mounts(env: &Env, ctr: &str) -> Vec<serde_json::Value> {
    let out = env.rpod_ok(&["inspect", ctr, "--format", "{{json .Mounts}}"]);
    serde_json::from_str(&out).unwrap()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

/// The one `Error:` line of a failed command.
fn error_line(stderr: &str) -> String {
    let v: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(v.len(), 1, "one error line in {stderr:?}");
    v[0].to_string()
}

/// A directory on the host the test user can write, with one file in it.
fn host_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.dir.join(name);
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("host-secret"), b"HOST-SECRET\n").unwrap();
    let st = std::process::Command::new("chown")
        .args(["-R", &format!("{0}:{0}", env.user), d.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    d
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every regular file under `dir` (as root), without following links.
fn file_contents(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(file_contents(&e.path()));
        } else if t.is_file() {
            out.push(std::fs::read(e.path()).unwrap());
        }
    }
    out
}

#[test]
fn create_ls_inspect_exists_rm_as_podman() {
    let env = new_env("vol-cmds");
    assert_eq!(
        env.rpod_ok(&["volume", "create", "--label", "tier=db", "data"]),
        "data\n"
    );
    env.rpod_ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "o=size=1m,uid=5",
        "scratch",
    ]);
    let anon = env.rpod_ok(&["volume", "create"]);
    let anon = anon.trim();
    assert_eq!(anon.len(), 64, "{anon}");
    assert!(data_dir(&env, "data").is_dir());

    // The same name again: an error, unless --ignore.
    let (code, stderr) = env.rpod_fail(&["volume", "create", "data"]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("volume with name data already exists"),
        "{stderr}"
    );
    assert_eq!(
        env.rpod_ok(&["volume", "create", "--ignore", "data"]),
        "data\n"
    );
    let (code, stderr) = env.rpod_fail(&["volume", "create", "--driver", "nfs", "x"]);
    assert_eq!(code, 125, "{stderr}");

    let ls = env.rpod_ok(&["volume", "ls"]);
    let mut want = vec![
        "DRIVER      VOLUME NAME".to_string(),
        format!("local       {anon}"),
        "local       data".into(),
        "local       scratch".into(),
    ];
    want[1..].sort();
    assert_eq!(lines(&ls), want);
    assert_eq!(
        lines(&env.rpod_ok(&["volume", "list", "-q", "--filter", "label=tier=db"])),
        ["data"]
    );
    assert_eq!(
        lines(&env.rpod_ok(&["volume", "ls", "-q", "--filter", "name=scr"])),
        ["scratch"]
    );
    assert_eq!(
        lines(&env.rpod_ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}}",
            "--filter",
            "label=tier"
        ])),
        ["data local map[tier:db]"]
    );
    assert_eq!(
        lines(&env.rpod_ok(&["volume", "ls", "--noheading", "--filter", "opt=type=tmpfs"])),
        ["local       scratch"]
    );
    let (code, _) = env.rpod_fail(&["volume", "ls", "--filter", "colour=red"]);
    assert_eq!(code, 125);
    let j: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["volume", "ls", "--format", "json"])).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 3);

    // inspect: podman's keys, in podman's order.
    let out = env.rpod_ok(&["volume", "inspect", "data", "scratch"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j[0]["Name"], "data");
    assert_eq!(j[0]["Driver"], "local");
    assert_eq!(j[0]["Scope"], "local");
    assert_eq!(j[0]["Labels"]["tier"], "db");
    assert_eq!(j[0]["Mountpoint"], data_dir(&env, "data").to_str().unwrap());
    assert_eq!(j[0]["NeedsCopyUp"], true);
    assert_eq!(j[0]["NeedsChown"], true);
    assert_eq!(j[1]["Options"]["type"], "tmpfs");
    assert_eq!(j[1]["Options"]["UID"], "5");
    assert_eq!(j[1]["UID"], 5);
    let keys: Vec<usize> = [
        "\"Name\"",
        "\"Driver\"",
        "\"Mountpoint\"",
        "\"CreatedAt\"",
        "\"Labels\"",
        "\"Scope\"",
        "\"Options\"",
        "\"MountCount\"",
    ]
    .iter()
    .map(|k| out.find(k).unwrap())
    .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{out}");
    assert_eq!(
        env.rpod_ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Name}}:{{.NeedsChown}}",
            "scratch"
        ]),
        "scratch:false\n"
    );
    assert_eq!(
        env.rpod_ok(&["volume", "inspect", "--all", "--format", "{{.Name}}"])
            .lines()
            .count(),
        3
    );
    let (code, stderr) = env.rpod_fail(&["volume", "inspect", "nope"]);
    assert_eq!(code, 125);
    assert!(stderr.contains("no such volume nope"), "{stderr}");

    // exists: 0 or 1, and nothing printed.
    let o = env.rpod(&["volume", "exists", "data"]);
    assert_eq!(o.status.code(), Some(0));
    let o = env.rpod(&["volume", "exists", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());

    // reload: without volume plugins podman prints nothing and changes
    // nothing; neither does rpod, which has only the local driver.
    let before = env.rpod_ok(&["volume", "ls", "-q"]);
    assert_eq!(env.rpod_ok(&["volume", "reload"]), "");
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), before);

    // rm: names as removed; a missing one is exit 1 (podman's).
    assert_eq!(env.rpod_ok(&["volume", "rm", "scratch"]), "scratch\n");
    let o = env.rpod(&["volume", "rm", "data", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "data\n");
    assert!(err(&o).contains("no volume with name \"nope\" found: no such volume"));
    assert_eq!(env.rpod_ok(&["volume", "rm", "--all"]), format!("{anon}\n"));
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "");
    assert!(
        env.store_entries("volumes").is_empty(),
        "{:?}",
        env.store_entries("volumes")
    );
}

#[test]
fn hostile_names_are_refused_before_anything_is_made() {
    let env = new_env("vol-names");
    let outside = env.home.join(".local/share/x");
    for bad in ["../x", "../../../../tmp/x", "/abs", ".hidden", "a/b", "-x"] {
        let (code, stderr) = env.rpod_fail(&["volume", "create", "--", bad]);
        assert_eq!(code, 125, "{bad}: {stderr}");
        assert!(
            error_line(&stderr).contains("names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"),
            "{bad}: {stderr}"
        );
    }
    assert!(!outside.exists());
    assert!(!env.home.join("tmp/x").exists());
    assert!(!store_root(&env).join("x").exists());
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "");
    // The same rule for -v and --mount: a bad name is neither a volume nor a path.
    let (code, stderr) = env.rpod_fail(&["create", "-v", "a b:/d", "alpine"]);
    assert_eq!(code, 125);
    assert!(stderr.contains("invalid volume name"), "{stderr}");
    let (code, stderr) =
        env.rpod_fail(&["create", "--mount", "type=volume,src=..x,dst=/d", "alpine"]);
    assert_eq!(code, 125);
    assert!(stderr.contains("invalid volume name"), "{stderr}");
}

#[test]
fn named_volumes_persist_survive_rm_and_anonymous_go_with_rm_v() {
    let env = env_with_alpine("vol-life");
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/data",
        "alpine",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    // The data is in the volume, not in any container's upper dir.
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, "data").join("f")).unwrap(),
        "kept\n"
    );
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "data:/other:ro",
            "alpine",
            "cat",
            "/other/f"
        ]),
        "kept\n"
    );
    let o = env.rpod(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/other:ro",
        "alpine",
        "touch",
        "/other/g",
    ]);
    assert!(!o.status.success());
    assert!(err(&o).contains("Read-only file system"), "{}", err(&o));

    // A container with a named and an anonymous volume.
    env.rpod_ok(&[
        "create",
        "--name",
        "c1",
        "-v",
        "data:/data",
        "-v",
        "/scratch",
        "alpine",
        "true",
    ]);
    let mounts: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["inspect", "c1", "--format", "{{json .Mounts}}"]))
            .unwrap();
    let m = mounts.as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["Type"], "volume");
    assert_eq!(m[0]["Name"], "data");
    assert_eq!(m[0]["Driver"], "local");
    assert_eq!(m[0]["Destination"], "/data");
    assert_eq!(m[0]["Source"], data_dir(&env, "data").to_str().unwrap());
    let anon = m[1]["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64);
    assert_eq!(m[1]["Destination"], "/scratch");

    // In use: refused with podman's exit 2; both volumes stay.
    let (code, stderr) = env.rpod_fail(&["volume", "rm", "data"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(error_line(&stderr).contains("volume data is being used by the following container(s)"));
    assert!(env
        .rpod_ok(&["volume", "ls", "-q", "--filter", "dangling=true"])
        .is_empty());

    // rm without -v: both survive; the anonymous one is now dangling.
    env.rpod_ok(&["rm", "c1"]);
    assert_eq!(
        lines(&env.rpod_ok(&["volume", "ls", "-q", "--filter", "dangling=true"])).len(),
        2
    );
    // rm -v: only the anonymous volume goes.
    env.rpod_ok(&[
        "create",
        "--name",
        "c2",
        "-v",
        "data:/data",
        "-v",
        "/scratch",
        "alpine",
        "true",
    ]);
    env.rpod_ok(&["rm", "-v", "c2"]);
    let left = lines(&env.rpod_ok(&["volume", "ls", "-q"]));
    assert!(
        left.contains(&"data".to_string()) && left.contains(&anon),
        "{left:?}"
    );
    assert_eq!(left.len(), 2, "{left:?}");
    // run --rm removes its anonymous volumes too.
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "/tmpvol",
        "alpine",
        "true",
    ]);
    assert_eq!(lines(&env.rpod_ok(&["volume", "ls", "-q"])).len(), 2);

    // A create that fails after its volumes were made leaves none behind.
    let before = env.rpod_ok(&["volume", "ls", "-q"]);
    let (code, _) = env.rpod_fail(&[
        "create",
        "-v",
        "/anon",
        "-v",
        "brandnew:/x",
        "-p",
        "99999:1",
        "alpine",
    ]);
    assert_eq!(code, 125);
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), before);

    // volume rm -f removes the containers that use it, then the volume.
    env.rpod_ok(&[
        "create",
        "--name",
        "c3",
        "-v",
        "data:/data",
        "alpine",
        "true",
    ]);
    assert_eq!(env.rpod_ok(&["volume", "rm", "-f", "data"]), "data\n");
    assert_eq!(env.rpod_ok(&["ps", "-aq"]), "");
    assert!(!data_dir(&env, "data").exists());

    // prune removes what nobody uses, after asking.
    env.rpod_ok(&["volume", "create", "--label", "keep=1", "k"]);
    env.rpod_ok(&["create", "--name", "c4", "-v", "used:/u", "alpine", "true"]);
    let o = env.rpod_stdin(&["volume", "prune"], b"n\n");
    assert!(o.status.success());
    assert_eq!(lines(&env.rpod_ok(&["volume", "ls", "-q"])).len(), 3);
    assert_eq!(
        env.rpod_ok(&["volume", "prune", "-f", "--filter", "label!=keep"]),
        format!("{anon}\n")
    );
    assert_eq!(env.rpod_ok(&["volume", "prune", "--force"]), "k\n");
    assert_eq!(lines(&env.rpod_ok(&["volume", "ls", "-q"])), ["used"]);
}

#[test]
fn copy_up_nocopy_chown_and_image_volumes() {
    let env = env_with_alpine("vol-copy");
    let img = push_image(
        "vol-content",
        "layers.append([D('srv', 0o750, 1000, 1000), F('srv/index.html', 'from the image\\n', 0o640, 1000, 1000), \
         D('cache', 0o755)])\n\
         config['Volumes'] = {'/cache': {}}\n",
    );
    env.rpod_ok(&["pull", "-q", &img]);
    // A new named volume gets the image's content, owners and modes.
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "site:/srv",
        &img,
        "sh",
        "-c",
        "stat -c '%u:%g %a %n' /srv /srv/index.html; cat /srv/index.html",
    ]);
    assert_eq!(
        out,
        "1000:1000 750 /srv\n1000:1000 640 /srv/index.html\nfrom the image\n"
    );
    assert_eq!(
        env.rpod_ok(&["volume", "inspect", "site", "--format", "{{.NeedsCopyUp}}"]),
        "false\n"
    );
    // Only once: what the container changed stays.
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "site:/srv",
        &img,
        "rm",
        "/srv/index.html",
    ]);
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "site:/srv",
            &img,
            "ls",
            "/srv"
        ]),
        ""
    );
    // nocopy: empty.
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "bare:/srv:nocopy",
            &img,
            "ls",
            "-A",
            "/srv"
        ]),
        ""
    );
    // A volume where the image has nothing is given to the container's user.
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "1234:55",
            "-v",
            "mine:/new",
            &img,
            "stat",
            "-c",
            "%u:%g",
            "/new"
        ]),
        "1234:55\n"
    );
    // o=uid=,gid= give the volume an owner at create; no chown at first use.
    env.rpod_ok(&["volume", "create", "-o", "o=uid=5,gid=6", "owned"]);
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "1234",
            "-v",
            "owned:/o:nocopy",
            &img,
            "stat",
            "-c",
            "%u:%g",
            "/o",
        ]),
        "5:6\n"
    );
    // Image mounts are refused, not ignored.
    let (code, stderr) =
        env.rpod_fail(&["create", "--mount", "type=image,src=alpine,dst=/i", &img]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("bind, volume and tmpfs are supported"),
        "{stderr}"
    );
    // :U gives everything to the container's user.
    env.rpod_ok(&["volume", "create", "u"]);
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "u:/u",
        &img,
        "sh",
        "-c",
        "mkdir /u/d && touch /u/d/f && ln -s /etc/passwd /u/l",
    ]);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "77:88",
        "-v",
        "u:/u:U",
        &img,
        "sh",
        "-c",
        "stat -c '%u:%g %n' /u /u/d /u/d/f; stat -c '%u:%g' /etc/passwd",
    ]);
    assert_eq!(
        out, "77:88 /u\n77:88 /u/d\n77:88 /u/d/f\n0:0\n",
        "the link's target is not chowned"
    );

    // The image's VOLUME /cache: an anonymous volume by default…
    env.rpod_ok(&["create", "--name", "iv", &img, "true"]);
    let m = mounts(&env, "iv");
    assert_eq!(
        (m.len(), &m[0]["Type"], &m[0]["Destination"]),
        (1, &"volume".into(), &"/cache".into())
    );
    // …a tmpfs, or nothing.
    env.rpod_ok(&[
        "create",
        "--name",
        "it",
        "--image-volume",
        "tmpfs",
        &img,
        "true",
    ]);
    let m = mounts(&env, "it");
    assert_eq!(
        (m.len(), &m[0]["Type"], &m[0]["Destination"]),
        (1, &"tmpfs".into(), &"/cache".into())
    );
    env.rpod_ok(&[
        "create",
        "--name",
        "ii",
        "--image-volume",
        "ignore",
        &img,
        "true",
    ]);
    let t = env.rpod_ok(&["inspect", "ii", "--format", "{{len .Mounts}}"]);
    assert_eq!(t, "0\n");
    let o = env.rpod(&["create", "--image-volume", "bogus", &img]);
    assert!(
        !o.status.success() && err(&o).contains("bogus"),
        "{}",
        err(&o)
    );
    // --volumes-from takes iv's anonymous volume, read-only when asked.
    env.rpod_ok(&[
        "create",
        "--name",
        "vf",
        "--volumes-from",
        "iv:ro",
        "alpine",
        "true",
    ]);
    let vf = mounts(&env, "vf");
    let iv = mounts(&env, "iv")[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(
        (vf.len(), &vf[0]["Name"], &vf[0]["RW"]),
        (1, &iv.clone().into(), &false.into())
    );
    // …and counts as a user of it.
    env.rpod_ok(&["rm", "-v", "iv"]);
    assert!(env.rpod_ok(&["volume", "ls", "-q"]).contains(&iv));
}

#[test]
fn mount_flag_volumes_tmpfs_and_bind_nonrecursive() {
    let env = env_with_alpine("vol-mount");
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        "type=volume,src=mv,dst=/mv,volume-opt=type=tmpfs,volume-opt=o=size=2m",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m",
        "alpine",
        "sh",
        "-c",
        "grep -E ' /(mv|t) ' /proc/mounts | cut -d' ' -f1-3",
    ]);
    assert_eq!(out, "tmpfs /mv tmpfs\ntmpfs /t tmpfs\n");
    assert_eq!(
        env.rpod_ok(&["volume", "inspect", "mv", "--format", "{{.Options.type}}"]),
        "tmpfs\n"
    );
    // type=none,device=: a bind of a host dir, by name.
    let host = host_dir(&env, "dev");
    env.rpod_ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        &format!("device={}", host.display()),
        "-o",
        "o=bind",
        "dv",
    ]);
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "dv:/d",
            "alpine",
            "cat",
            "/d/host-secret"
        ]),
        "HOST-SECRET\n"
    );
    // :O: an overlay on the host dir; what the container writes is gone at
    // the next start and never reaches the host.
    env.rpod_ok(&[
        "create",
        "--name",
        "ov",
        "--network",
        "none",
        "-v",
        &format!("{}:/d:O", host.display()),
        "alpine",
        "sh",
        "-c",
        "echo more >> /d/host-secret; touch /d/new; cat /d/host-secret; ls /d",
    ]);
    let want = "HOST-SECRET\nmore\nhost-secret\nnew\n";
    assert_eq!(env.rpod_ok(&["start", "-a", "ov"]), want);
    assert_eq!(
        env.rpod_ok(&["start", "-a", "ov"]),
        want,
        "the last run's changes are discarded"
    );
    assert_eq!(entries(&host), ["host-secret"]);
    assert_eq!(
        std::fs::read_to_string(host.join("host-secret")).unwrap(),
        "HOST-SECRET\n"
    );
    env.rpod_ok(&["rm", "ov"]);
    let (code, stderr) = env.rpod_fail(&["create", "-v", "vol:/d:O", "alpine"]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("overlay mounts take a host directory"),
        "{stderr}"
    );

    // bind-nonrecursive: a mount below the source is not carried along.
    // The submount is made in rpod's own namespaces (`rpod unshare`): a
    // mount inherited from the host is locked there, and the kernel refuses
    // to bind its parent without it (EINVAL), for podman and runc too.
    let src = env.dir.join("bsrc");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let st = std::process::Command::new("chown")
        .args(["-R", &format!("{}:", env.user), src.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let run = |extra: &str| {
        format!(
            "rpod run --rm --network none --mount type=bind,src={},dst=/b{extra} alpine ls /b/sub",
            src.display()
        )
    };
    let out = env.sh_ok(&format!(
        "rpod unshare sh -c 'mount -t tmpfs tmpfs {0}/sub && touch {0}/sub/on-the-tmpfs && {1} && echo --- && {2}'",
        src.display(),
        run(""),
        run(",bind-nonrecursive")
    ));
    assert_eq!(out, "on-the-tmpfs\n---\n");
}

#[test]
fn export_and_import_round_trip() {
    let env = env_with_alpine("vol-tar");
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "src:/s",
        "alpine",
        "sh",
        "-c",
        "mkdir -p /s/d && echo one > /s/d/f && ln -s d/f /s/l && chown 5:6 /s/d/f",
    ]);
    let tar = env.dir.join("h/src.tar");
    env.rpod_ok(&["volume", "export", "src", "-o", tar.to_str().unwrap()]);
    let listing = env.sh_ok(&format!(
        "tar -tvf {} | awk '{{print $2, $6, $7, $8}}'",
        tar.display()
    ));
    assert_eq!(listing, "0/0 d  \n5/6 d/f  \n0/0 l -> d/f\n");
    let via_stdout = env.sh_ok("rpod volume export src | tar -t");
    assert_eq!(via_stdout, "d\nd/f\nl\n");

    env.rpod_ok(&["volume", "create", "dst"]);
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "dst:/d",
        "alpine",
        "touch",
        "/d/old",
    ]);
    env.rpod_ok(&["volume", "import", "dst", tar.to_str().unwrap()]);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "dst:/d",
        "alpine",
        "sh",
        "-c",
        "ls -A /d; cat /d/l; stat -c %u:%g /d/d/f",
    ]);
    assert_eq!(out, "d\nl\none\n5:6\n", "the old content is replaced");
    env.sh_ok(
        "rpod volume create fromstdin && rpod volume export src | rpod volume import fromstdin -",
    );
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "fromstdin:/d",
            "alpine",
            "cat",
            "/d/d/f"
        ]),
        "one\n"
    );
    let (code, stderr) = env.rpod_fail(&["volume", "import", "nope", tar.to_str().unwrap()]);
    assert_eq!(code, 125, "podman 4.3.1 exits 125 here: {stderr}");
    assert!(stderr.contains("no such volume"), "{stderr}");
    // Not under a running container's feet.
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--network",
        "none",
        "-v",
        "dst:/d",
        "alpine",
        "sleep",
        "60",
    ]);
    let (code, stderr) = env.rpod_fail(&["volume", "import", "dst", tar.to_str().unwrap()]);
    assert_eq!(code, 125);
    assert!(stderr.contains("in use by running container"), "{stderr}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "busy"]);
}

/// A hostile image: its volume paths are links to the host (absolute, and
/// climbing with `..`), and the content a volume copies up holds links to
/// `/etc/shadow` and `../../..`. Copy-up reads and writes only inside the
/// container's root and the volume.
#[test]
fn attack_copy_up_through_links_stays_inside() {
    let env = env_with_alpine("vol-atk");
    let host = host_dir(&env, "hostdir");
    let climb = format!("../../../../../../../..{}", host.display());
    let py = format!(
        "layers.append([L('abs', {host:?}), L('rel', {climb:?}), \
         D('data'), F('data/ok', 'fine\\n'), L('data/shadow', '/etc/shadow'), \
         L('data/up', '../../../../../../..'), L('data/hostlink', {host:?}), \
         L('vol', {host:?})])\n\
         config['Volumes'] = {{'/vol': {{}}}}\n",
        host = host.to_str().unwrap(),
    );
    let img = push_image("vol-links", &py);
    env.rpod_ok(&["pull", "-q", &img]);
    let before = entries(&host);
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "a:/abs",
        "-v",
        "r:/rel",
        "-v",
        "d:/data",
        &img,
        "true",
    ]);
    // Nothing of the host came in…
    for v in ["a", "r"] {
        let d = data_dir(&env, v);
        assert!(entries(&d).is_empty(), "{v}: {:?}", entries(&d));
    }
    let d = data_dir(&env, "d");
    assert_eq!(entries(&d), ["hostlink", "ok", "shadow", "up"]);
    for l in ["shadow", "up", "hostlink"] {
        assert!(
            std::fs::symlink_metadata(d.join(l)).unwrap().is_symlink(),
            "{l} copied as a link"
        );
    }
    let shadow = std::fs::read("/etc/shadow").unwrap();
    let contents = file_contents(&store_root(&env).join("volumes"));
    assert!(
        contents
            .iter()
            .all(|c| c != &shadow && !c.starts_with(b"HOST-SECRET")),
        "host content copied into a volume"
    );
    // …and nothing went out.
    assert_eq!(entries(&host), before);
    // Export writes the links as links, not what they point at.
    let tar = env.sh_ok("rpod volume export d | tar -tv");
    assert!(tar.contains("shadow -> /etc/shadow"), "{tar}");
    let bytes = env.sh("rpod volume export d | grep -c HOST-SECRET").stdout;
    assert_eq!(String::from_utf8_lossy(&bytes).trim(), "0");
}

/// Hostile archives for `volume import`: `..` entries, absolute paths, and
/// a link to the host followed by a file written through it. Refused with
/// one error line naming the entry; nothing outside written; the volume
/// keeps its old content.
#[test]
fn attack_import_of_hostile_tars_writes_nothing_outside() {
    let env = new_env("vol-imp");
    let host = host_dir(&env, "target");
    env.rpod_ok(&["volume", "create", "v"]);
    let cases: Vec<(&str, String)> = vec![
        ("dotdot", "[F('../../../../escape', 'x')]".into()),
        (
            "deep",
            format!("[F('a/../../..{}/dotdot', 'x')]", host.display()),
        ),
        (
            "abslink",
            format!(
                "[L('ln', {:?}), F('ln/through-link', 'x')]",
                host.to_str().unwrap()
            ),
        ),
        (
            "rellink",
            "[L('up', '../../../../../../..'), F('up/tmp/through-rel', 'x')]".into(),
        ),
    ];
    // The volume's current content, which a refused import must keep.
    let good = env.dir.join("good.tar");
    make_tar(&good, "[F('kept', 'old\\n')]");
    env.rpod_ok(&["volume", "import", "v", good.to_str().unwrap()]);
    for (name, entries_py) in &cases {
        let t = env.dir.join(format!("{name}.tar"));
        make_tar(&t, entries_py);
        let o = env.rpod(&["volume", "import", "v", t.to_str().unwrap()]);
        let stderr = err(&o);
        // Links that stay links are fine; entries through them are not.
        if o.status.success() {
            assert!(name.ends_with("link"), "{name} accepted: {stderr}");
        } else {
            assert_eq!(o.status.code(), Some(125), "{name}: {stderr}");
            let line = error_line(&stderr);
            assert!(
                line.contains(t.to_str().unwrap()) && line.contains("entry"),
                "{name}: {line}"
            );
            assert_eq!(
                std::fs::read_to_string(data_dir(&env, "v").join("kept")).unwrap(),
                "old\n",
                "{name}: the old content stays"
            );
        }
        assert_eq!(entries(&host), ["host-secret"], "{name}");
        assert!(!Path::new("/escape").exists());
        assert!(!Path::new("/tmp/through-rel").exists());
        assert!(!env.dir.join("escape").exists());
    }
    // Nothing was left half-done in the store.
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );
}

fn make_tar(path: &Path, entries_py: &str) {
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/world");
    let script = format!(
        "import sys\nsys.path.insert(0, {world:?})\nfrom build_fixtures import *\n\
         with open({path:?}, 'wb') as f:\n    write_tar({entries_py}, f, order=False)\n",
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
}

/// `kill -9` in the middle of `volume import` leaves the volume as it was,
/// and the next command clears the half-unpacked copy.
#[test]
fn import_killed_midway_leaves_the_old_content() {
    use std::io::Write;
    let env = new_env("vol-kill");
    env.rpod_ok(&["volume", "create", "v"]);
    let good = env.dir.join("good.tar");
    make_tar(&good, "[F('kept', 'old\\n')]");
    env.rpod_ok(&["volume", "import", "v", good.to_str().unwrap()]);
    let big = env.dir.join("big.tar");
    make_tar(
        &big,
        "[D('d')] + [F('d/f%d' % i, bytes(1 << 20)) for i in range(32)]",
    );
    let data = std::fs::read(&big).unwrap();
    let fifo = env.dir.join("import-fifo-4242");
    let st = std::process::Command::new("mkfifo")
        .args(["-m", "0666"])
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let mut child = env
        .cmd(&["volume", "import", "v", fifo.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    w.write_all(&data[..data.len() / 2]).unwrap();
    // The import is now halfway, waiting for the rest: kill rpod itself.
    let marker = fifo.to_str().unwrap().to_string();
    let ok = crate::common::eventually(10, || {
        crate::common::procs_with(&marker)
            .iter()
            .any(|p| !p.contains("runuser"))
    });
    assert!(ok, "no rpod process importing");
    let tmp = store_root(&env).join("tmp");
    assert!(!entries(&tmp).is_empty(), "the import unpacks into tmp/");
    for p in crate::common::procs_with(&marker) {
        if !p.contains("runuser") {
            let pid = p.split(':').next().unwrap();
            std::process::Command::new("kill")
                .args(["-9", pid])
                .status()
                .unwrap();
        }
    }
    drop(w);
    let _ = child.wait();
    assert_eq!(
        std::fs::read_to_string(data_dir(&env, "v").join("kept")).unwrap(),
        "old\n"
    );
    assert_eq!(entries(&data_dir(&env, "v")), ["kept"]);
    // The next command that opens the store clears what the killed one left.
    env.rpod_ok(&["volume", "ls"]);
    assert!(entries(&tmp).is_empty(), "{:?}", entries(&tmp));
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "v\n");
}

#[test]
fn volume_mount_only_inside_unshare() {
    let env = new_env("vol-mnt");
    env.rpod_ok(&["volume", "create", "plain"]);
    env.rpod_ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    let (code, stderr) = env.rpod_fail(&["volume", "mount", "plain"]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("must execute `rpod unshare` first"),
        "{stderr}"
    );
    let tv = data_dir(&env, "tv");
    let out = env.sh_ok(&format!(
        "rpod unshare sh -c 'rpod volume mount plain tv && grep -c \" {0} \" /proc/self/mountinfo; \
         rpod volume unmount tv && grep -c \" {0} \" /proc/self/mountinfo; true'",
        tv.display()
    ));
    assert_eq!(
        out,
        format!(
            "{}\n{}\n1\ntv\n0\n",
            data_dir(&env, "plain").display(),
            tv.display()
        )
    );
    // Nothing stays mounted on the host.
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(tv.to_str().unwrap()));
}

/// `volume rm` racing `create -v` of the same volume: each succeeds or
/// fails clearly, and no container is left naming a volume that is gone.
#[test]
fn rm_racing_create_leaves_no_container_without_its_volume() {
    let env = env_with_alpine("vol-race");
    for i in 0..8 {
        let name = format!("race{i}");
        env.rpod_ok(&["volume", "create", &name]);
        let vol = format!("{name}:/d");
        let mut create = env
            .cmd(&[
                "create",
                "--name",
                &format!("c{i}"),
                "-v",
                &vol,
                "alpine",
                "true",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let rm = env.rpod(&["volume", "rm", &name]);
        let created = create.wait().unwrap();
        assert!(created.success(), "create {i} failed");
        // rm either won (the create then made the volume anew) or saw the user.
        match rm.status.code() {
            Some(0) => {}
            Some(2) => assert!(err(&rm).contains("is being used"), "{}", err(&rm)),
            other => panic!("volume rm {i}: {other:?} {}", err(&rm)),
        }
        assert!(
            env.rpod(&["volume", "exists", &name]).status.success(),
            "{i}"
        );
        let m = mounts(&env, &format!("c{i}"));
        assert_eq!(m[0]["Name"], name.as_str());
        assert!(Path::new(m[0]["Source"].as_str().unwrap()).is_dir());
    }
}

/// `--mount type=volume,…,subpath=DIR` (podman 5's): only that directory of
/// the volume, looked up inside it; a subpath that is missing or leads out
/// is an error naming it.
#[test]
fn mount_subpath_mounts_a_part_of_a_volume() {
    let env = env_with_alpine("volsubpath");
    let _reaper = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "--rm",
        "-v",
        "sv:/v",
        "alpine",
        "sh",
        "-c",
        "mkdir -p /v/a/b && echo deep > /v/a/b/f && ln -s / /v/up",
    ]);
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=sv,dst=/p,subpath=a/b",
            "alpine",
            "cat",
            "/p/f",
        ]),
        "deep\n"
    );
    // A symlink in the volume resolves inside it: "up" is the volume's root.
    assert_eq!(
        env.rpod_ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=sv,dst=/p,subpath=up/a/b,ro",
            "alpine",
            "cat",
            "/p/f",
        ]),
        "deep\n"
    );
    let (code, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=sv,dst=/p,subpath=../x",
        "alpine",
        "true",
    ]);
    assert_eq!(code, 125);
    assert!(
        e.contains("subpath \"../x\" must be a relative path"),
        "{e}"
    );
    let (_, e) = env.rpod_fail(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=sv,dst=/p,subpath=nope",
        "alpine",
        "true",
    ]);
    assert!(e.contains("subpath nope"), "{e}");
    env.rpod_ok(&["volume", "rm", "sv"]);
    assert_clean(&env, &[]);
}
