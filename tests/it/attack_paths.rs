//! Attacks on how rpod resolves paths inside a container's root (issue 9,
//! class 3): hostile images whose symlinks (long chains, absolute links to
//! host paths) sit where rpod creates directories, files and mounts. Each
//! test points the link at a directory of its own Env that exists on the
//! host and is writable by the test user (so an escape would succeed), and
//! asserts that nothing appears there.

use crate::common::{push_image, Env};
use std::path::{Path, PathBuf};

/// A directory on the host, writable by the test user, that an image links to.
fn host_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.dir.join(name);
    std::fs::create_dir(&d).unwrap();
    let st = std::process::Command::new("chown")
        .args([&format!("{}:", env.user), d.to_str().unwrap()])
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

/// Python for a chain of `n` relative links `PREFIX0 -> PREFIX1 -> ...`
/// in /, the last one pointing at `end`.
fn chain(prefix: &str, n: usize, end: &str) -> String {
    format!(
        "layers.append([L('{prefix}%d' % i, '{prefix}%d' % (i + 1)) for i in range({last})]\n\
         \x20             + [L('{prefix}{last}', {end:?})])\n",
        last = n - 1
    )
}

/// The one line of rpod's error (the "Error: " line), asserting there is one.
fn error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line in {stderr:?}");
    lines[0]
}

#[test]
fn workdir_through_300_links_creates_nothing_on_the_host() {
    let env = Env::new("atk-wd");
    let host = host_dir(&env, "host-wd");
    // 300 links, and 280: the old resolver gave up after 255 and let the
    // kernel follow the last 25 (under its budget of 40) onto the host.
    for n in [280, 300] {
        let py = format!(
            "{}config['WorkingDir'] = '/wd0/escaped'\n",
            chain("wd", n, host.to_str().unwrap())
        );
        let img = push_image(&format!("workdir-chain-{n}"), &py);
        let (code, stderr) = env.rpod_fail(&["run", "--rm", "--network", "none", &img, "pwd"]);
        assert!(entries(&host).is_empty(), "{n}: {:?}", entries(&host));
        let line = error_line(&stderr);
        assert!(
            line.contains(
                "creating the working directory /wd0/escaped: Too many levels of symbolic links"
            ),
            "{line}"
        );
        // podman 4.3.1 (runc 1.1.5) fails this image with 126 too.
        assert_eq!(code, 126, "{stderr}");
    }
    // The same chain, shorter than the kernel's budget of 40, is followed
    // inside the root: the directory is made in the container, not on the host.
    let py = format!(
        "{}config['WorkingDir'] = '/ok0/inside'\n",
        chain("ok", 30, host.to_str().unwrap())
    );
    let img = push_image("workdir-short-chain", &py);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &img,
        "sh",
        "-c",
        "pwd -P; ls -d \"$(pwd -P)\"",
    ]);
    let want = host.join("inside");
    assert_eq!(
        out,
        format!("{0}\n{0}\n", want.display()),
        "the cwd is the link's target inside the container"
    );
    assert!(entries(&host).is_empty(), "{:?}", entries(&host));
}

#[test]
fn etc_linked_to_the_host_gets_its_name_files_inside_the_root() {
    let env = Env::new("atk-etc");
    let host = host_dir(&env, "host-etc");
    // /etc replaced by an absolute link to a host directory that exists.
    let py = format!("layers.append([L('etc', {:?})])\n", host.to_str().unwrap());
    let img = push_image("etc-link", &py);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--hostname",
        "boxname",
        &img,
        "sh",
        "-c",
        "cat /etc/hostname; ls \"$(readlink /etc)\"",
    ]);
    assert_eq!(out, "boxname\nhostname\nhosts\nresolv.conf\n");
    assert!(entries(&host).is_empty(), "{:?}", entries(&host));
    // Nor are the host's files read as the image's: a passwd placed there
    // does not define the user.
    std::fs::write(host.join("passwd"), "evil:x:4242:4242::/:/bin/sh\n").unwrap();
    let (code, stderr) = env.rpod_fail(&["run", "--rm", "-u", "evil", &img, "id", "-u"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(error_line(&stderr).contains("evil"), "{stderr}");
    assert_eq!(entries(&host), ["passwd"]);
}

#[test]
fn etc_hosts_linked_to_a_host_file_leaves_it_alone() {
    let env = Env::new("atk-hosts");
    let host = host_dir(&env, "host-files");
    let victim = host.join("hosts");
    std::fs::write(&victim, "10.9.9.9 from-the-host\n").unwrap();
    let py = format!(
        "layers.append([L('etc/hosts', {:?}), \
         L('etc/hostname', 'hostname-rel')])\n",
        victim.to_str().unwrap()
    );
    let img = push_image("hosts-link", &py);
    let out = env.rpod_ok(&[
        "run",
        "--rm",
        "--add-host",
        "added.example:10.1.2.3",
        &img,
        "sh",
        "-c",
        "grep -c added.example /etc/hosts; grep -c from-the-host /etc/hosts || true",
    ]);
    assert_eq!(out, "1\n0\n");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "10.9.9.9 from-the-host\n"
    );
    assert_eq!(entries(&host), ["hosts"]);
}

#[test]
fn etc_files_through_a_long_chain_fail_cleanly() {
    let env = Env::new("atk-resolv");
    let host = host_dir(&env, "host-resolv");
    // 280 links: past the old resolver's 255, within the kernel's 40 after
    // it. With /etc itself the chain, the old code created
    // HOST/hosts on the host; with /etc/resolv.conf it tried to mount there.
    let cases = [
        (
            "etc-chain",
            "layers.append([L('etc', '/e0')])\n".to_string()
                + &chain("e", 280, host.to_str().unwrap()),
            "/etc/hosts",
        ),
        (
            "resolv-chain",
            chain("rc", 280, host.join("resolv.conf").to_str().unwrap())
                + "layers[-1] += [L('etc/resolv.conf', '/rc0')]\n",
            "/etc/resolv.conf",
        ),
    ];
    for (name, py, path) in cases {
        let img = push_image(name, &py);
        let (code, stderr) = env.rpod_fail(&["run", "--rm", &img, "true"]);
        assert!(entries(&host).is_empty(), "{name}: {:?}", entries(&host));
        let line = error_line(&stderr);
        assert!(
            line.contains(&format!(
                "on {path}: creating {path}: Too many levels of symbolic links"
            )),
            "{line}"
        );
        // podman 4.3.1 (runc 1.1.5): 126, "SecureJoin ...: too many levels of symbolic links".
        assert_eq!(code, 126, "{stderr}");
    }
}

#[test]
fn volume_target_linked_to_the_host_mounts_inside_the_root() {
    let env = Env::new("atk-vol");
    let victim = host_dir(&env, "host-victim");
    let src = host_dir(&env, "vol-src");
    std::fs::write(src.join("marker"), "from the volume\n").unwrap();
    let py = format!(
        "layers.append([L('target', {:?})])\n",
        victim.to_str().unwrap()
    );
    let img = push_image("volume-link", &py);
    let vol = format!("{}:/target", src.display());
    let script = format!(
        "cat /target/marker; cat {0}/marker; grep -c ' {0} ' /proc/self/mountinfo; \
         echo written > /target/new",
        victim.display()
    );
    let out = env.rpod_ok(&["run", "--rm", "-v", &vol, &img, "sh", "-c", &script]);
    assert_eq!(out, "from the volume\nfrom the volume\n1\n");
    assert!(entries(&victim).is_empty(), "{:?}", entries(&victim));
    assert_eq!(entries(&src), ["marker", "new"]);
}

#[test]
fn the_layers_and_config_fixtures_still_run() {
    let env = Env::new("atk-fixt");
    let layers = env.image("layers");
    let out = env.rpod_ok(&["run", "--rm", "--network", "none", &layers, "true"]);
    assert_eq!(out, "");
    let config = env.image("config");
    let out = env.rpod_ok(&["run", "--rm", "--network", "none", &config, "pwd"]);
    assert!(!out.trim().is_empty());
}
