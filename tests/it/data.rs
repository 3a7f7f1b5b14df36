//! `cp`, `diff`, `commit`, `export` and `container exists` as the test user:
//! what podman does with each, and the attacks of the docker cp CVE class
//! (CVE-2018-15664, CVE-2019-14271) with assertions on the host.

use crate::common::{env_with_alpine, push_image, Env};
use std::path::{Path, PathBuf};

fn chown_to_user(env: &Env, p: &Path) {
    let st = std::process::Command::new("chown")
        .args(["-R", &format!("{}:", env.user), p.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// A directory on the host the test user owns.
fn host_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    chown_to_user(env, &d);
    d
}

fn create(env: &Env, name: &str, image: &str) {
    env.rpod_ok(&[
        "create",
        "--name",
        name,
        "--network",
        "none",
        image,
        "sleep",
        "600",
    ]);
}

fn run_out(env: &Env, image: &str, script: &str) -> String {
    env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "sh",
        "-c",
        script,
    ])
}

#[test]
fn cp_both_ways_on_a_stopped_container_with_podmans_path_rules() {
    let env = env_with_alpine("cpstopped");
    create(&env, "c", "alpine");
    let h = host_dir(&env, "src");
    std::fs::create_dir_all(h.join("tree/sub")).unwrap();
    std::fs::write(h.join("tree/sub/f"), "deep").unwrap();
    std::fs::write(h.join("file.txt"), "hello").unwrap();
    chown_to_user(&env, &h);
    let hs = h.display().to_string();

    // A file into an existing dir keeps its name; to a new path takes that name.
    env.rpod_ok(&["cp", &format!("{hs}/file.txt"), "c:/tmp"]);
    env.rpod_ok(&["cp", &format!("{hs}/file.txt"), "c:/tmp/renamed"]);
    // A dir to a new path becomes that path; into an existing dir, a subdir;
    // "dir/." copies its contents.
    env.rpod_ok(&["cp", &format!("{hs}/tree"), "c:/newdir"]);
    env.rpod_ok(&["cp", &format!("{hs}/tree"), "c:/tmp"]);
    env.rpod_ok(&["container", "cp", &format!("{hs}/tree/."), "c:/srv"]);
    // Missing parent, dir onto a file: errors naming the path.
    let (code, e) = env.rpod_fail(&["cp", &format!("{hs}/file.txt"), "c:/no/such/x"]);
    assert_eq!(code, 125, "{e}");
    assert!(e.contains("/no/such"), "{e}");
    let (_, e) = env.rpod_fail(&["cp", &format!("{hs}/tree"), "c:/tmp/file.txt"]);
    assert!(e.contains("cannot copy a directory to a file"), "{e}");
    let (_, e) = env.rpod_fail(&["cp", "c:/nonexistent", &hs]);
    assert!(e.contains("could not be found on container c"), "{e}");

    env.rpod_ok(&["start", "c"]);
    let got = env.rpod_ok(&[
        "exec",
        "c",
        "sh",
        "-c",
        "cat /tmp/file.txt /tmp/renamed /newdir/sub/f /tmp/tree/sub/f /srv/sub/f; echo; stat -c '%u:%g' /tmp/file.txt",
    ]);
    assert_eq!(got, "hellohellodeepdeepdeep\n0:0\n");

    // Out again, from the running container: into a dir, and as a new name.
    let back = host_dir(&env, "back");
    let bs = back.display().to_string();
    env.rpod_ok(&[
        "exec",
        "c",
        "sh",
        "-c",
        "echo fromctr > /tmp/out; mkdir -p /d/e; echo x > /d/e/y",
    ]);
    env.rpod_ok(&["cp", "c:/tmp/out", &bs]);
    env.rpod_ok(&["cp", "c:/d", &format!("{bs}/dcopy")]);
    env.rpod_ok(&["cp", "c:/d/", &bs]);
    assert_eq!(
        std::fs::read_to_string(back.join("out")).unwrap(),
        "fromctr\n"
    );
    assert_eq!(
        std::fs::read_to_string(back.join("dcopy/e/y")).unwrap(),
        "x\n"
    );
    assert_eq!(std::fs::read_to_string(back.join("d/e/y")).unwrap(), "x\n");
    // Files on the host belong to the user.
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata(back.join("out")).unwrap().uid();
    let user_uid = std::fs::metadata(&env.home).unwrap().uid();
    assert_eq!(uid, user_uid);
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
}

#[test]
fn cp_streams_tar_and_keeps_or_maps_ownership() {
    let env = env_with_alpine("cpstream");
    create(&env, "c", "alpine");
    // Out as a tar on stdout.
    let out = env.sh_ok("rpod cp c:/etc/passwd - | tar -tvf - | awk '{print $6}'");
    assert_eq!(out.trim(), "passwd");
    // In from stdin, with ids kept (-a=false) or mapped to the main user.
    let tar = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o640);
        h.set_uid(1234);
        h.set_gid(4321);
        b.append_data(&mut h, "owned", &b"abc"[..]).unwrap();
        b.into_inner().unwrap()
    };
    let o = env.rpod_stdin(&["cp", "--archive=false", "-", "c:/tmp"], &tar);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = env.rpod_stdin(&["cp", "-", "c:/root"], &tar);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    env.rpod_ok(&["start", "c"]);
    let got = env.rpod_ok(&[
        "exec",
        "c",
        "stat",
        "-c",
        "%u:%g %a",
        "/tmp/owned",
        "/root/owned",
    ]);
    assert_eq!(got, "1234:4321 640\n0:0 640\n");
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
}

#[test]
fn cp_overwrite_rules() {
    let env = env_with_alpine("cpoverw");
    create(&env, "c", "alpine");
    let h = host_dir(&env, "o");
    std::fs::create_dir_all(h.join("x")).unwrap();
    std::fs::write(h.join("x/etc"), "file now").unwrap();
    chown_to_user(&env, &h);
    // /etc is a directory in the container: a file may not replace it.
    let (code, e) = env.rpod_fail(&["cp", &format!("{}/x/.", h.display()), "c:/"]);
    assert_eq!(code, 125);
    assert!(e.contains("--overwrite"), "{e}");
    let out = env.rpod_ok(&["diff", "c"]);
    assert!(!out.contains("/etc"), "{out}");
}

#[test]
fn cp_never_follows_container_symlinks_to_the_host() {
    let env = Env::new("cpattack");
    let img = push_image(
        "cp-escape",
        "layers = [[L('evil', '/'), L('up', '../../../../../..'), D('etc2'), L('etc2/x', '../../../../host'), F('etc2/real', 'inside')]]",
    );
    env.rpod_ok(&["pull", "-q", &img]);
    create(&env, "c", &img);
    // A secret on the host, in a dir the user can write: none of it may
    // be read or written through the container's links.
    let host = host_dir(&env, "host");
    std::fs::write(host.join("secret"), "host secret").unwrap();
    chown_to_user(&env, &host);
    let hs = host.display().to_string();
    let dst = host_dir(&env, "dst");
    let ds = dst.display().to_string();

    // Reading: /evil/<host path> is the container's own / .
    let o = env.rpod(&["cp", &format!("c:/evil{hs}/secret"), &ds]);
    assert!(!o.status.success());
    let o = env.rpod(&["cp", &format!("c:/up{hs}/secret"), &ds]);
    assert!(!o.status.success());
    let o = env.rpod(&["cp", "c:/etc2/x/secret", &ds]);
    assert!(!o.status.success());
    assert!(
        std::fs::read_dir(&dst).unwrap().next().is_none(),
        "nothing copied out"
    );
    // A tree holding a link out is copied with the link as a link.
    env.rpod_ok(&["cp", "c:/etc2", &ds]);
    assert_eq!(
        std::fs::read_to_string(dst.join("etc2/real")).unwrap(),
        "inside"
    );
    assert_eq!(
        std::fs::read_link(dst.join("etc2/x")).unwrap(),
        Path::new("../../../../host")
    );
    std::fs::remove_dir_all(dst.join("etc2")).unwrap();
    // /evil/etc/passwd is the container's passwd, not the host's.
    env.rpod_ok(&["cp", "c:/evil/etc/passwd", &ds]);
    let got = std::fs::read_to_string(dst.join("passwd")).unwrap();
    assert_ne!(got, std::fs::read_to_string("/etc/passwd").unwrap());

    // Writing: through the links, files land inside the container, with
    // it stopped (its rootfs mounted by cp) and running (its own root).
    let f = host_dir(&env, "payload").join("pwn");
    std::fs::write(&f, "pwned").unwrap();
    chown_to_user(&env, f.parent().unwrap());
    let fs = f.display().to_string();
    env.rpod_ok(&["cp", &fs, "c:/evil/tmp/"]);
    // The host path does not exist inside: refused, nothing on the host.
    let o = env.rpod(&["cp", &fs, &format!("c:/evil{hs}/")]);
    assert!(!o.status.success());
    let o = env.rpod(&["cp", &fs, "c:/etc2/x/"]);
    assert!(!o.status.success());
    assert!(!Path::new("/host").exists());
    env.rpod_ok(&["start", "c"]);
    env.rpod_ok(&["exec", "c", "mkdir", "-p", &hs]);
    env.rpod_ok(&["cp", &fs, &format!("c:/evil{hs}/")]);
    env.rpod_ok(&["cp", &fs, &format!("c:/up{hs}/pwn2")]);
    let o = env.rpod(&["cp", &format!("c:/evil{hs}/secret"), &ds]);
    assert!(!o.status.success(), "read the host's secret");
    assert!(
        !host.join("pwn").exists() && !host.join("pwn2").exists(),
        "wrote on the host"
    );
    let got = env.rpod_ok(&[
        "exec",
        "c",
        "cat",
        &format!("{hs}/pwn"),
        &format!("{hs}/pwn2"),
        "/tmp/pwn",
    ]);
    assert_eq!(got, "pwnedpwnedpwned");

    // A tar on stdin with ../ and absolute entries, and a symlink leading
    // out then a file through it: refused, nothing written outside.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "out", &hs).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, "out/through", &b"owned"[..]).unwrap();
    // A hard link through the symlink to a host file.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    h.set_mode(0o644);
    b.append_link(&mut h, "linked", "out/secret").unwrap();
    let bytes = b.into_inner().unwrap();
    let o = env.rpod_stdin(&["cp", "-", "c:/tmp"], &bytes);
    assert_eq!(
        o.status.code(),
        Some(125),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!host.join("through").exists());
    // Each entry alone: the link is refused too.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "out2", &hs).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    h.set_mode(0o644);
    b.append_link(&mut h, "linked", "out2/secret").unwrap();
    let o = env.rpod_stdin(&["cp", "-", "c:/tmp"], &b.into_inner().unwrap());
    assert_eq!(
        o.status.code(),
        Some(125),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = env.rpod(&["exec", "c", "cat", "/tmp/linked"]);
    assert!(!String::from_utf8_lossy(&got.stdout).contains("host secret"));
    let mut raw = Vec::new();
    let mut hd = tar::Header::new_old();
    // tar::Builder refuses "..", so write the header by hand.
    hd.as_old_mut().name[..13].copy_from_slice(b"../../escaped");
    hd.set_size(1);
    hd.set_mode(0o644);
    hd.set_cksum();
    raw.extend_from_slice(hd.as_bytes());
    raw.extend_from_slice(&[b'x'; 1]);
    raw.extend_from_slice(&[0u8; 511]);
    raw.extend_from_slice(&[0u8; 1024]);
    let o = env.rpod_stdin(&["cp", "-", &format!("c:{hs}")], &raw);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains(".."));
    assert!(!env.dir.join("escaped").exists() && !Path::new("/escaped").exists());
    assert_eq!(
        std::fs::read_to_string(host.join("secret")).unwrap(),
        "host secret"
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
}

#[test]
fn diff_lists_changes_like_podman() {
    let env = env_with_alpine("diff");
    env.rpod_ok(&[
        "run", "--name", "c", "--network", "none", "alpine", "sh", "-c",
        "echo new > /root/new; rm /etc/motd 2>/dev/null || rm /etc/hostname.bak 2>/dev/null; echo x >> /etc/passwd; rm -f /etc/group",
    ]);
    let out = env.rpod_ok(&["diff", "c"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"A /root/new"), "{out}");
    assert!(lines.contains(&"C /etc/passwd"), "{out}");
    assert!(lines.contains(&"D /etc/group"), "{out}");
    assert!(lines.contains(&"C /etc"), "{out}");
    assert!(
        !out.contains("/etc/hosts\n") && !out.contains("/proc"),
        "{out}"
    );
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| &l[2..]);
    assert_eq!(lines, sorted);
    let json: serde_json::Value =
        serde_json::from_str(&env.rpod_ok(&["container", "diff", "--format", "json", "c"]))
            .unwrap();
    assert!(json["added"]
        .as_array()
        .unwrap()
        .contains(&"/root/new".into()));
    assert!(json["deleted"]
        .as_array()
        .unwrap()
        .contains(&"/etc/group".into()));
    // An image's diff is its top layer.
    let id = env.rpod_ok(&["commit", "-q", "c", "snap"]);
    let img = env.rpod_ok(&["image", "diff", id.trim()]);
    assert!(img.lines().any(|l| l == "A /root/new"), "{img}");
    assert!(img.lines().any(|l| l == "D /etc/group"), "{img}");
}

#[test]
fn diff_of_two_compares_the_first_with_the_second_as_podman_does() {
    let env = env_with_alpine("diff2");
    env.rpod_ok(&[
        "run",
        "--name",
        "a",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "echo a > /root/only-a; rm /etc/group",
    ]);
    env.rpod_ok(&[
        "run",
        "--name",
        "b",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "echo b > /root/only-b; mkdir -p /srv/d; echo x >> /etc/passwd",
    ]);
    // podman 4.3's `diff B A`: B compared with A as with its parent layer
    // (checked against podman 4.3.1 here): what A added is deleted, what A
    // deleted is added, what B made is added or changed; the runtime's
    // mount points never show.
    let out = env.rpod_ok(&["diff", "b", "a"]);
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "D /root/only-a",
        "A /root/only-b",
        "A /etc/group",
        "C /etc/passwd",
        "C /etc",
        "A /srv/d",
    ] {
        assert!(lines.contains(&want), "{want} missing in:\n{out}");
    }
    assert!(
        !out.contains("/etc/hosts\n") && !out.contains("/proc"),
        "{out}"
    );
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| &l[2..]);
    assert_eq!(lines, sorted);
    // The other way round: the opposite changes.
    let back = env.rpod_ok(&["container", "diff", "a", "b"]);
    assert!(back.lines().any(|l| l == "A /root/only-a"), "{back}");
    assert!(back.lines().any(|l| l == "D /etc/group"), "{back}");
    assert!(back.lines().any(|l| l == "D /srv/d"), "{back}");
    // A container against its own image: what its single diff lists.
    let mine = env.rpod_ok(&["diff", "a", "alpine"]);
    assert!(mine.lines().any(|l| l == "A /root/only-a"), "{mine}");
    assert!(mine.lines().any(|l| l == "D /etc/group"), "{mine}");
    // Nothing between a thing and itself.
    assert_eq!(env.rpod_ok(&["diff", "a", "a"]), "");
    // Images, as JSON: a commit of b against the image it came from.
    env.rpod_ok(&["commit", "-q", "b", "snapb"]);
    let json: serde_json::Value = serde_json::from_str(
        &env.rpod_ok(&["image", "diff", "--format", "json", "snapb", "alpine"]),
    )
    .unwrap();
    let has = |k: &str, p: &str| json[k].as_array().is_some_and(|a| a.contains(&p.into()));
    assert!(
        has("added", "/root/only-b") && has("added", "/srv/d"),
        "{json}"
    );
    assert!(has("changed", "/etc/passwd"), "{json}");
    assert!(json.get("deleted").is_none(), "{json}");
    // `image diff` takes images only; an unknown name is one clear error.
    let (code, e) = env.rpod_fail(&["image", "diff", "alpine", "a"]);
    assert!(code == 125 && e.contains("a not found"), "{code} {e}");
    let (code, e) = env.rpod_fail(&["diff", "a", "nosuch"]);
    assert!(code == 125 && e.contains("nosuch"), "{code} {e}");
}

#[test]
fn commit_round_trip_keeps_changes_deletions_and_links() {
    let env = env_with_alpine("commit");
    env.rpod_ok(&[
        "run",
        "--name",
        "c",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "set -e; rm /etc/group; mkdir -p /opq; echo a > /opq/keep; \
         echo data > /srv-f; ln /srv-f /srv-hard; ln -s /srv-f /srv-sym; \
         mkdir /d; echo 1 > /d/one; chown 7:8 /d/one; chmod 0751 /d/one",
    ]);
    // The container's changes with instructions on top (ONBUILD: ignored).
    let id = env.rpod_ok(&[
        "commit",
        "-q",
        "-a",
        "me",
        "-c",
        "ENV FOO=bar",
        "-c",
        "CMD [\"cat\", \"/srv-f\"]",
        "-c",
        "LABEL k=v",
        "-c",
        "WORKDIR /d",
        "-c",
        "ONBUILD RUN x",
        "c",
        "committed",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    // The image runs with the changes, deletions and links.
    assert_eq!(
        env.rpod_ok(&["run", "--rm", "--network", "none", "committed"]),
        "data\n"
    );
    let got = run_out(
        &env,
        "committed",
        "test ! -e /etc/group && echo gone; cat /opq/keep; \
         [ $(stat -c %i /srv-f) = $(stat -c %i /srv-hard) ] && echo hard; readlink /srv-sym; \
         stat -c '%u:%g %a' /d/one; echo $FOO; pwd",
    );
    assert_eq!(got, "gone\na\nhard\n/srv-f\n7:8 751\nbar\n/d\n");
    let cfg = env.rpod_ok(&["image", "inspect", "committed"]);
    let v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(v[0]["Author"], "me", "{cfg}");
    assert_eq!(v[0]["Labels"]["k"], "v", "{cfg}");
    assert_eq!(v[0]["Id"], id);
    // A second commit on top: an opaque dir (rm -rf and recreate) and a
    // deleted file of the first commit.
    env.rpod_ok(&[
        "run",
        "--name",
        "c2",
        "--network",
        "none",
        "committed",
        "sh",
        "-c",
        "rm -rf /opq && mkdir /opq && echo b > /opq/new; rm /srv-hard",
    ]);
    // A message needs the docker format, as in podman.
    let (code, e) = env.rpod_fail(&["commit", "-m", "msg", "c2", "second"]);
    assert_eq!(code, 125);
    assert!(e.contains("docker image format"), "{e}");
    env.rpod_ok(&[
        "commit", "-q", "--format", "docker", "-m", "msg", "c2", "second",
    ]);
    let comment = env.rpod_ok(&["image", "inspect", "--format", "{{.Comment}}", "second"]);
    assert_eq!(comment.trim(), "msg");
    let got = run_out(
        &env,
        "second",
        "ls /opq; test -e /srv-hard || echo nohard; cat /srv-f",
    );
    assert_eq!(got, "new\nnohard\ndata\n");
    // Squashed: one layer, same tree.
    env.rpod_ok(&["commit", "-q", "--squash", "c2", "flat"]);
    let got = run_out(&env, "flat", "ls /opq; cat /srv-f");
    assert_eq!(got, "new\ndata\n");
    let layers = env.rpod_ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "flat",
    ]);
    assert_eq!(layers.trim(), "1");
}

#[test]
fn commit_works_on_a_running_container_and_bad_changes_fail() {
    let env = env_with_alpine("commitrun");
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "echo live > /live; sleep 600",
    ]);
    assert!(crate::common::eventually(10, || env
        .rpod(&["exec", "c", "test", "-e", "/live"])
        .status
        .success()));
    env.rpod_ok(&["commit", "-q", "c", "live"]);
    assert_eq!(run_out(&env, "live", "cat /live"), "live\n");
    let (code, e) = env.rpod_fail(&["commit", "-c", "FROM x", "c", "bad"]);
    assert_eq!(code, 125);
    assert!(e.contains("FROM x"), "{e}");
    let (code, _) = env.rpod_fail(&["commit", "nosuch", "bad"]);
    assert_eq!(code, 125);
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
}

/// A container created and never started has no changes: `diff` is empty
/// and `commit` makes an image with one more (empty) layer, as podman does.
#[test]
fn commit_and_diff_of_a_container_never_started() {
    let env = env_with_alpine("commitnew");
    env.rpod_ok(&["create", "--name", "n", "alpine", "true"]);
    assert_eq!(env.rpod_ok(&["diff", "n"]), "");
    env.rpod_ok(&["commit", "-q", "n", "fresh"]);
    let layers = |i: &str| {
        env.rpod_ok(&["image", "inspect", "--format", "{{len .RootFS.Layers}}", i])
            .trim()
            .parse::<usize>()
            .unwrap()
    };
    assert_eq!(layers("fresh"), layers("alpine") + 1);
    assert_eq!(run_out(&env, "fresh", "echo ok"), "ok\n");
    env.rpod_ok(&["rm", "n"]);
}

#[test]
fn export_is_a_flat_tar_and_exists_answers_with_its_status() {
    let env = env_with_alpine("export");
    env.rpod_ok(&[
        "run",
        "--name",
        "c",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "rm /etc/group; echo e > /exported",
    ]);
    let out = env.sh_ok("rpod export c | tar -tf - | sort");
    assert!(out.lines().any(|l| l == "exported"), "{out}");
    assert!(out.lines().any(|l| l == "etc/passwd"), "{out}");
    assert!(
        !out.lines().any(|l| l == "etc/group" || l.contains(".wh.")),
        "{out}"
    );
    let f = env.home.join("c.tar");
    env.rpod_ok(&["container", "export", "-o", f.to_str().unwrap(), "c"]);
    let listed = env.sh_ok(&format!("tar -tf {} | grep -c exported", f.display()));
    assert_eq!(listed.trim(), "1");
    env.rpod_ok(&["container", "exists", "c"]);
    let o = env.rpod(&["container", "exists", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stderr.is_empty() && o.stdout.is_empty());
}

#[test]
fn cp_sees_bind_mounts_of_running_and_stopped_containers() {
    let env = env_with_alpine("cpbind");
    let vol = host_dir(&env, "vol");
    std::fs::write(vol.join("inside"), "from the host").unwrap();
    chown_to_user(&env, &vol);
    let spec = format!("{}:/data", vol.display());
    let ro = host_dir(&env, "ro");
    let ro_spec = format!("{}:/ro:ro", ro.display());
    env.rpod_ok(&[
        "create",
        "--name",
        "c",
        "--network",
        "none",
        "-v",
        &ro_spec,
        "-v",
        &spec,
        "alpine",
        "sleep",
        "600",
    ]);
    let out = host_dir(&env, "out");
    let os = out.display().to_string();
    let payload = host_dir(&env, "p").join("f");
    std::fs::write(&payload, "payload").unwrap();
    chown_to_user(&env, payload.parent().unwrap());
    // Stopped: the bind mount is mounted for cp, the rootfs under it untouched.
    env.rpod_ok(&["cp", "c:/data/inside", &format!("{os}/stopped")]);
    env.rpod_ok(&["cp", payload.to_str().unwrap(), "c:/data/one"]);
    assert_eq!(
        std::fs::read_to_string(out.join("stopped")).unwrap(),
        "from the host"
    );
    assert_eq!(std::fs::read_to_string(vol.join("one")).unwrap(), "payload");
    // A read-only volume stays read-only, stopped or running.
    let (code, e) = env.rpod_fail(&["cp", payload.to_str().unwrap(), "c:/ro/x"]);
    assert_eq!(code, 125, "{e}");
    assert!(!ro.join("x").exists());
    // Running: the container's own view.
    env.rpod_ok(&["start", "c"]);
    env.rpod_ok(&["cp", "c:/data/inside", &format!("{os}/running")]);
    env.rpod_ok(&["cp", payload.to_str().unwrap(), "c:/data/two"]);
    assert_eq!(
        std::fs::read_to_string(out.join("running")).unwrap(),
        "from the host"
    );
    assert_eq!(std::fs::read_to_string(vol.join("two")).unwrap(), "payload");
    let (code, _) = env.rpod_fail(&["cp", payload.to_str().unwrap(), "c:/ro/x"]);
    assert_eq!(code, 125);
    assert!(!ro.join("x").exists());
    // Volume contents are not the container's changes.
    let diff = env.rpod_ok(&["diff", "c"]);
    assert!(!diff.contains("/data/"), "{diff}");
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
}

#[test]
fn commit_killed_midway_leaves_no_image_and_the_next_one_works() {
    let env = env_with_alpine("commitkill");
    env.rpod_ok(&[
        "run",
        "--name",
        "c",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "mkdir /data; i=0; while [ $i -lt 3000 ]; do echo $i > /data/f$i; i=$((i+1)); done",
    ]);
    for delay in ["0.05", "0.2", "0.5"] {
        env.sh_ok(&format!(
            "rpod commit -q c killed >/dev/null 2>&1 & p=$!; sleep {delay}; kill -9 $p 2>/dev/null; wait $p || true"
        ));
        let names = env.rpod_ok(&["images", "--format", "{{.Repository}}"]);
        // Either it finished before the kill, or there is no such image.
        if names.contains("localhost/killed") {
            env.rpod_ok(&["rmi", "killed"]);
        }
    }
    env.rpod_ok(&["commit", "-q", "c", "good"]);
    assert_eq!(run_out(&env, "good", "ls /data | wc -l").trim(), "3000");
    let tmp = crate::common::store_root(&env).join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "leftovers in {}: {left:?}", tmp.display());
}

#[test]
fn diff_and_commit_read_fuse_overlayfs_upper_dirs() {
    let env = env_with_alpine("commitfuse");
    let fuse = ["--storage-driver", "fuse-overlayfs"];
    let r = |args: &[&str]| -> String {
        let mut v: Vec<&str> = fuse.to_vec();
        v.extend_from_slice(args);
        env.rpod_ok(&v)
    };
    r(&[
        "run",
        "--name",
        "base",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "mkdir /o; echo a > /o/a; echo b > /o/b",
    ]);
    r(&["commit", "-q", "base", "fbase"]);
    // An opaque dir (removed and made again) and a deleted file, as
    // fuse-overlayfs writes them in its upper dir.
    r(&[
        "run",
        "--name",
        "c",
        "--network",
        "none",
        "fbase",
        "sh",
        "-c",
        "rm -rf /o; mkdir /o; echo c > /o/c; rm /etc/group",
    ]);
    let d = r(&["diff", "c"]);
    assert!(d.lines().any(|l| l == "D /etc/group"), "{d}");
    assert!(d.lines().any(|l| l == "A /o/c"), "{d}");
    assert!(!d.contains(".wh.") && !d.contains(".opq"), "{d}");
    r(&["commit", "-q", "c", "fout"]);
    let got = r(&[
        "run",
        "--rm",
        "--network",
        "none",
        "fout",
        "sh",
        "-c",
        "ls -a /o; test -e /etc/group || echo nogroup",
    ]);
    assert_eq!(got, ".\n..\nc\nnogroup\n");
}

#[test]
fn diff_and_commit_compare_a_vfs_copy_with_its_image() {
    let env = env_with_alpine("commitvfs");
    let r = |args: &[&str]| -> String {
        let mut v = vec!["--storage-driver", "vfs"];
        v.extend_from_slice(args);
        env.rpod_ok(&v)
    };
    r(&[
        "run",
        "--name",
        "base",
        "--network",
        "none",
        "alpine",
        "sh",
        "-c",
        "mkdir /o; echo a > /o/a; echo b > /o/b",
    ]);
    let d = r(&["diff", "base"]);
    assert!(
        d.lines().any(|l| l == "A /o/a") && d.lines().any(|l| l == "A /o"),
        "{d}"
    );
    r(&["commit", "-q", "base", "vbase"]);
    r(&["run", "--name", "c", "--network", "none", "vbase", "sh", "-c",
        "rm -rf /o; mkdir /o; echo c > /o/c; rm /etc/group; echo x >> /etc/passwd; chmod 0700 /home 2>/dev/null || mkdir -m 0700 /home"]);
    let d = r(&["diff", "c"]);
    for want in [
        "D /etc/group",
        "C /etc/passwd",
        "C /etc",
        "D /o/a",
        "D /o/b",
        "A /o/c",
        "C /o",
    ] {
        assert!(d.lines().any(|l| l == want), "{want} missing:\n{d}");
    }
    assert!(!d.lines().any(|l| l == "C /bin" || l == "C /o/c"), "{d}");
    r(&["commit", "-q", "c", "vout"]);
    let got = r(&["run", "--rm", "--network", "none", "vout", "sh", "-c",
        "ls -a /o; test -e /etc/group || echo nogroup; tail -1 /etc/passwd; stat -c %a /home; stat -c %a /tmp"]);
    assert_eq!(got, ".\n..\nc\nnogroup\nx\n700\n1777\n");
    // The same image under the kernel overlay driver.
    let got = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "vout",
        "sh",
        "-c",
        "ls /o; tail -1 /etc/passwd",
    ]);
    assert_eq!(got, "c\nx\n");
}
