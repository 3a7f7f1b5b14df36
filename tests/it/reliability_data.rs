//! Reliability of the data commands (issue 11): `commit --pause` on a busy
//! container, a full disk during pull, load and commit, concurrent commits
//! of one container, `volume rm` racing a `run` that uses the volume, and
//! `kill -9` in the middle of `import`.

use crate::common::{env_with_alpine, err, eventually, out, store_root, world, Env, Reaper};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn chown(env: &Env, p: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{}:", env.user)])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn status(env: &Env, ctr: &str) -> String {
    crate::common::field(env, ctr, "{{.State.Status}}")
}

/// Every complete line of `f` is the same and the last (partial) one a
/// prefix of it: the file as one pass of the writer left it.
fn one_generation(f: &[u8]) -> bool {
    let text = String::from_utf8_lossy(f);
    let mut parts: Vec<&str> = text.split('\n').collect();
    let last = parts.pop().unwrap_or("");
    let Some(first) = parts.first() else {
        return !last.contains('\0');
    };
    !first.is_empty() && parts.iter().all(|l| l == first) && first.starts_with(last)
}

#[test]
fn one_generation_check_sees_mixed_files() {
    assert!(one_generation(b"12\n12\n1"));
    assert!(one_generation(b"12\n12\n"));
    assert!(!one_generation(b"12\n13\n"));
    assert!(!one_generation(b"12\n12\n3"));
    assert!(!one_generation(b"12\n\0\0"));
}

/// `commit` pauses a running container (the default, as podman's `-p`):
/// a writer rewriting a file in a loop is caught between two writes, never
/// in the middle of reading, and runs on afterwards, also when the commit
/// fails or is interrupted.
#[test]
fn commit_pauses_a_busy_writer_and_always_unpauses_it() {
    let env = env_with_alpine("commitpause");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "w",
        "alpine",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); yes $i | head -c 3000000 > /f; done",
    ]);
    assert!(eventually(10, || env
        .rpod(&["exec", "w", "test", "-s", "/f"])
        .status
        .success()));
    for n in 0..3 {
        let img = format!("snap{n}");
        env.rpod_ok(&["commit", "-q", "w", &img]);
        assert_eq!(status(&env, "w"), "running", "after commit {n}");
        let f = env.rpod(&["run", "--rm", &img, "cat", "/f"]);
        assert!(f.status.success(), "{}", err(&f));
        assert!(
            one_generation(&f.stdout),
            "commit {n} caught /f mid-write: {} bytes",
            f.stdout.len()
        );
    }
    // The writer goes on after the commits: its counter moves.
    let gen = || {
        let o = env.rpod_ok(&["exec", "w", "head", "-n1", "/f"]);
        o.trim().parse::<u64>().unwrap_or(0)
    };
    let g0 = gen();
    assert!(
        eventually(10, || gen() > g0),
        "the writer is stopped after the commits"
    );

    // A commit that fails once the container is paused unpauses it.
    let (code, stderr) = env.rpod_fail(&["commit", "-c", "BOGUS x", "w", "bad"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(stderr.contains("BOGUS"), "{stderr}");
    assert_eq!(status(&env, "w"), "running");

    // One paused by the user stays paused, and is committed as it is.
    env.rpod_ok(&["pause", "w"]);
    env.rpod_ok(&["commit", "-q", "w", "while-paused"]);
    assert_eq!(status(&env, "w"), "paused");
    env.rpod_ok(&["unpause", "w"]);

    // SIGTERM in the middle of a long commit: rpod unpauses before it exits.
    env.rpod_ok(&[
        "exec",
        "w",
        "sh",
        "-c",
        "head -c 150000000 /dev/urandom > /big",
    ]);
    let mut c = env
        .cmd(&["commit", "-q", "w", "interrupted"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        eventually(20, || status(&env, "w") == "paused"),
        "the commit never paused the container"
    );
    // runuser passes SIGTERM on to rpod.
    Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status()
        .unwrap();
    let st = c.wait().unwrap();
    assert!(!st.success(), "the commit was interrupted");
    assert!(
        eventually(10, || status(&env, "w") == "running"),
        "left paused after SIGTERM: {}",
        status(&env, "w")
    );
    let g1 = gen();
    assert!(eventually(10, || gen() > g1), "the writer is stopped");
    assert_eq!(
        env.rpod(&["image", "exists", "interrupted"]).status.code(),
        Some(1)
    );
    env.rpod_ok(&["rm", "-f", "-t", "0", "w"]);
}

/// Two commits of one container at the same time: both succeed, one after
/// the other, each a whole image that runs.
#[test]
fn concurrent_commits_of_one_container_both_complete() {
    let env = env_with_alpine("commitrace");
    let _r = Reaper(&env);
    env.rpod_ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "alpine",
        "sh",
        "-c",
        "for i in $(seq 1 200); do echo $i > /f$i; done; mkdir /d; head -c 20000000 /dev/urandom > /d/big; sleep 600",
    ]);
    assert!(eventually(20, || env
        .rpod(&["exec", "c", "test", "-s", "/d/big"])
        .status
        .success()));
    std::thread::sleep(Duration::from_millis(500));
    let spawn = |name: &str| {
        env.cmd(&["commit", "-q", "c", name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for round in 0..2 {
        // Round 0: two names; round 1: the same name from both shells.
        let (n1, n2) = if round == 0 {
            ("one", "two")
        } else {
            ("same", "same")
        };
        let a = spawn(n1);
        let b = spawn(n2);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for o in [&a, &b] {
            assert!(o.status.success(), "round {round}: {}", err(o));
            assert_eq!(out(o).trim().len(), 64, "round {round}: {}", out(o));
        }
        assert_eq!(status(&env, "c"), "running");
        for n in [n1, n2] {
            let o = env.rpod_ok(&[
                "run",
                "--rm",
                n,
                "sh",
                "-c",
                "cat /f1 /f200; wc -c < /d/big",
            ]);
            assert_eq!(o, "1\n200\n20000000\n", "image {n}");
        }
    }
    let names = env.rpod_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(names.matches("localhost/same").count(), 1, "{names}");
    // The store is sound after the race.
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
    let id = env.rpod_ok(&["inspect", "--format", "{{.Id}}", "c"]);
    let id = id.trim();
    env.rpod_ok(&["rm", "-f", "-t", "0", "c"]);
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );
    // The commit lock went with the container: no file anywhere in the
    // store still names it.
    let left = Command::new("find")
        .arg(store_root(&env))
        .args(["-name", &format!("*{id}*"), "-print"])
        .output()
        .unwrap();
    assert_eq!(out(&left), "", "left behind by rm: {}", out(&left));
    assert_eq!(env.rpod_ok(&["system", "check"]), "");
    // Committing a container that is gone: one clear line, exit 125.
    let o = env.rpod(&["commit", "-q", id, "late"]);
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(err(&o).contains("no such container"), "{}", err(&o));
}

/// `volume rm` while a `run` that uses the volume starts: each either
/// succeeds or fails clearly, and a container that runs always has its
/// volume and sees its data on the host.
#[test]
fn volume_rm_racing_run_leaves_no_container_without_its_volume() {
    let env = env_with_alpine("volrunrace");
    let _r = Reaper(&env);
    for i in 0..6 {
        let v = format!("rv{i}");
        env.rpod_ok(&["volume", "create", &v]);
        let spec = format!("{v}:/d");
        let run = env
            .cmd(&[
                "run",
                "-d",
                "--name",
                &format!("r{i}"),
                "-v",
                &spec,
                "alpine",
                "sh",
                "-c",
                "echo alive > /d/mark; sleep 600",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if i % 2 == 1 {
            std::thread::sleep(Duration::from_millis(60 * i as u64));
        }
        let rm = env.rpod(&["volume", "rm", &v]);
        let run = run.wait_with_output().unwrap();
        assert!(run.status.success(), "run {i}: {}", err(&run));
        match rm.status.code() {
            Some(0) => {}
            Some(2) => assert!(err(&rm).contains("is being used"), "{}", err(&rm)),
            other => panic!("volume rm {i}: {other:?} {}", err(&rm)),
        }
        // Whoever won, the running container's volume exists and holds
        // what it wrote.
        assert!(
            env.rpod(&["volume", "exists", &v]).status.success(),
            "round {i}: the volume of a running container is gone"
        );
        let mp = env.rpod_ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &v]);
        let mark = PathBuf::from(mp.trim()).join("mark");
        assert!(
            eventually(10, || std::fs::read_to_string(&mark)
                .is_ok_and(|s| s == "alive\n")),
            "round {i}: {} not written",
            mark.display()
        );
        // In use now: rm refuses, rm -f removes the container with it.
        let (code, stderr) = env.rpod_fail(&["volume", "rm", &v]);
        assert_eq!(code, 2, "{stderr}");
        env.rpod_ok(&["volume", "rm", "-f", &v]);
        assert_eq!(
            env.rpod(&["container", "exists", &format!("r{i}")])
                .status
                .code(),
            Some(1)
        );
    }
    assert_eq!(env.rpod_ok(&["volume", "ls", "-q"]), "");
}

/// `kill -9` in the middle of `import`: no image, no half layer in use, and
/// the next command clears the temp files; the import then completes.
#[test]
fn kill_9_during_import_leaves_no_half_image() {
    let env = env_with_alpine("importkill");
    let tarball = env.home.join("rootfs.tar");
    let big = env.home.join("big.bin");
    let st = Command::new("head")
        .args(["-c", "100663296", "/dev/urandom"])
        .stdout(std::fs::File::create(&big).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    {
        let mut t = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
        t.append_path_with_name(&big, "big.bin").unwrap();
        t.finish().unwrap();
    }
    std::fs::remove_file(&big).unwrap();
    chown(&env, &tarball);
    let tmp = store_root(&env).join("tmp");
    let o = env.sh_ok(&format!(
        "rpod import -q rootfs.tar halfway >/dev/null & pid=$!\n\
         for i in $(seq 1 2000); do [ -n \"$(ls -A {tmp} 2>/dev/null)\" ] && break; sleep 0.005; done\n\
         sleep 0.05; kill -9 $pid; wait $pid; echo status=$?",
        tmp = tmp.display()
    ));
    assert!(o.contains("status=137"), "killed in the middle: {o}");
    assert_eq!(
        env.rpod(&["image", "exists", "halfway"]).status.code(),
        Some(1)
    );
    let imgs = env.rpod_ok(&["images", "-a", "--format", "{{.Repository}}"]);
    assert!(!imgs.contains("halfway"), "{imgs}");
    // The next import completes and leaves nothing behind.
    env.rpod_ok(&["import", "-q", "rootfs.tar", "halfway"]);
    assert_eq!(env.rpod_ok(&["image", "diff", "halfway"]), "A /big.bin\n");
    assert!(
        env.store_entries("tmp").is_empty(),
        "{:?}",
        env.store_entries("tmp")
    );
}

/// A tmpfs of `mib` MiB owned by the test user, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn new(env: &Env, mib: u32) -> SmallDisk {
        let dir = env.dir.join("small");
        std::fs::create_dir_all(&dir).unwrap();
        let uid = world().get("TEST_UID");
        let gid = world().get("TEST_GID");
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,uid={uid},gid={gid},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "mounting a tmpfs on {}", dir.display());
        SmallDisk { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// A full disk gives one clear line naming the lack of space, exit 125;
/// no half image; nothing in the store's tmp dir.
fn assert_no_space(what: &str, o: &std::process::Output) {
    assert_eq!(o.status.code(), Some(125), "{what}: {}", err(o));
    let e = err(o);
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line: {e}");
    assert!(
        e.to_lowercase().contains("no space left on device"),
        "{what}: {e}"
    );
}

/// MiB used under `root` (as root: layers belong to subordinate ids).
fn used_mib(root: &Path) -> u64 {
    let o = Command::new("du").arg("-sm").arg(root).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn tmp_entries(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join("tmp"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// pull, load and commit on a 64 MiB store: each fails clearly when the
/// disk fills, leaves nothing half-done, and the store works once space
/// is freed.
#[test]
fn full_disk_during_pull_load_and_commit() {
    let env = crate::common::new_env("fulldisk");
    let disk = SmallDisk::new(&env, 64);
    let root = disk.dir.join("store");
    let r = root.to_str().unwrap().to_string();
    let rp = |args: &[&str]| {
        let mut v = vec!["--root", r.as_str()];
        v.extend_from_slice(args);
        env.rpod(&v)
    };
    let ok = |args: &[&str]| {
        let o = rp(args);
        assert!(o.status.success(), "{args:?}: {}", err(&o));
        out(&o)
    };
    let no_half = |what: &str| {
        let imgs = ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            imgs.lines().all(|l| l.contains("alpine")) || imgs.trim().is_empty(),
            "{what}: {imgs}"
        );
        assert!(
            tmp_entries(&root).is_empty(),
            "{what}: {:?}",
            tmp_entries(&root)
        );
    };

    // pull: the 200 MiB fixture does not fit.
    ok(&["images"]);
    let before = used_mib(&root);
    let o = rp(&["pull", "-q", &env.image("large")]);
    assert_no_space("pull", &o);
    no_half("pull");
    let grown = |what: &str, before: u64| {
        let now = used_mib(&root);
        assert!(now <= before + 2, "{what} left {} MiB behind", now - before);
    };
    grown("pull", before);
    ok(&["pull", "-q", "alpine"]);
    assert_eq!(ok(&["run", "--rm", "alpine", "echo", "ok"]), "ok\n");

    // load: an archive with an 80 MiB layer.
    let archive = env.home.join("big.tar");
    {
        let big = env.home.join("big.bin");
        let st = Command::new("head")
            .args(["-c", "83886080", "/dev/urandom"])
            .stdout(std::fs::File::create(&big).unwrap())
            .status()
            .unwrap();
        assert!(st.success());
        let layer_path = env.home.join("layer.tar");
        {
            let mut t = tar::Builder::new(std::fs::File::create(&layer_path).unwrap());
            t.append_path_with_name(&big, "big.bin").unwrap();
            t.finish().unwrap();
        }
        std::fs::remove_file(&big).unwrap();
        let diff_id = {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            std::io::copy(&mut std::fs::File::open(&layer_path).unwrap(), &mut h).unwrap();
            format!("sha256:{}", hex::encode(h.finalize()))
        };
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/big.bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
        .to_string();
        let manifest = serde_json::json!([{"Config": "config.json",
            "RepoTags": ["localhost/toobig:latest"], "Layers": ["layer.tar"]}])
        .to_string();
        let mut a = tar::Builder::new(std::fs::File::create(&archive).unwrap());
        a.append_path_with_name(&layer_path, "layer.tar").unwrap();
        for (name, data) in [("config.json", &config), ("manifest.json", &manifest)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            a.append_data(&mut h, name, data.as_bytes()).unwrap();
        }
        a.finish().unwrap();
        std::fs::remove_file(&layer_path).unwrap();
        chown(&env, &archive);
    }
    let before = used_mib(&root);
    let o = rp(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert_no_space("load", &o);
    no_half("load");
    grown("load", before);
    std::fs::remove_file(&archive).unwrap();
    assert_eq!(ok(&["run", "--rm", "alpine", "echo", "ok"]), "ok\n");

    // commit: a container's 24 MiB file fits once, not three times (the
    // upper dir, the layer tar, the unpacked layer).
    ok(&[
        "run",
        "--name",
        "fat",
        "alpine",
        "sh",
        "-c",
        "head -c 25165824 /dev/urandom > /fat",
    ]);
    let before = used_mib(&root);
    let o = rp(&["commit", "-q", "fat", "fatimg"]);
    assert_no_space("commit", &o);
    no_half("commit");
    grown("commit", before);
    // Space freed: the container goes, the same store works.
    ok(&["rm", "fat"]);
    ok(&[
        "run",
        "--name",
        "thin",
        "alpine",
        "sh",
        "-c",
        "echo thin > /thin",
    ]);
    let id = ok(&["commit", "-q", "thin", "thinimg"]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(ok(&["run", "--rm", "thinimg", "cat", "/thin"]), "thin\n");
    ok(&["rm", "-a", "-f"]);
    drop(disk);
}
