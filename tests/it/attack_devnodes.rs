//! A layer that carries device nodes: an unprivileged user can't make real
//! devices, and an image must not get a path to the host's. The `devnodes`
//! fixture has a char device 1:3, a block device 7:9 (a loop device, group
//! disk), a fifo and a file; podman 4.3 keeps the fifo and the file and
//! skips the devices, and so must rpod, with no device left in the store.

use crate::common::Env;

#[test]
fn device_nodes_in_a_layer_are_skipped_and_never_reach_the_host() {
    let env = Env::new("devnodes");
    let img = env.image("devnodes");
    let out = env.rpod(&["pull", &img]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The user is told which entries were left out.
    assert!(
        stderr.contains("skipped 2 device node(s)") && stderr.contains("nodes/loop9"),
        "{stderr}"
    );
    // The container sees the fifo and the file, and neither device.
    let listing = env.rpod_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &img,
        "sh",
        "-c",
        "ls /nodes | tr '\\n' ' '; for f in /nodes/*; do \
         if [ -c $f ]; then echo CHAR $f; elif [ -b $f ]; then echo BLOCK $f; \
         elif [ -p $f ]; then echo FIFO $f; fi; done",
    ]);
    assert!(listing.starts_with("fifo regular "), "{listing}");
    assert!(listing.contains("FIFO /nodes/fifo"), "{listing}");
    assert!(
        !listing.contains("CHAR") && !listing.contains("BLOCK"),
        "{listing}"
    );
    // Nor does the store hold one: the only character devices in the layer
    // dirs are overlay whiteouts (0:0), and there is no block device at all.
    let layers = env.home.join(".local/share/rpod/layers");
    let found = std::process::Command::new("find")
        .arg(&layers)
        .args([
            "(", "-type", "c", "-o", "-type", "b", ")", "-printf", "%y %p\\n",
        ])
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&found.stdout);
    for line in found.lines() {
        assert!(
            line.starts_with("c "),
            "a block device in the store: {line}"
        );
        let path = line[2..].trim();
        let rdev = std::process::Command::new("stat")
            .args(["-c", "%t:%T", path])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&rdev.stdout).trim(),
            "0:0",
            "a character device other than a whiteout in the store: {path}"
        );
    }
    assert!(!found.contains("/nodes/"), "{found}");
}
