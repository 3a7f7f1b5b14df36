//! `image mount` / `image unmount` (only inside `rpod unshare`, as podman)
//! and `image sign` / `image trust`, which rpod refuses clearly.

use crate::common::{env_with_alpine, store_root};

#[test]
fn image_mount_only_inside_unshare_lists_counts_and_unmounts() {
    let env = env_with_alpine("imgmount");
    let id = env
        .rpod_ok(&["image", "inspect", "--format", "{{.Id}}", "alpine"])
        .trim()
        .to_string();
    let mp = store_root(&env).join(format!("image-mounts/{id}/merged"));
    let mps = mp.display().to_string();

    let (code, stderr) = env.rpod_fail(&["image", "mount", "alpine"]);
    assert_eq!(code, 125);
    assert_eq!(
        stderr.trim(),
        "Error: cannot run command \"rpod image mount\" in rootless mode, must execute `rpod unshare` first"
    );
    let (code, _) = env.rpod_fail(&["image", "unmount", "alpine"]);
    assert_eq!(code, 125);

    let out = env.sh_ok(
        "rpod unshare sh -ec '\
         p=$(rpod image mount alpine); echo \"$p\"; test -e \"$p/bin/sh\"; \
         touch \"$p/new\" 2>/dev/null && echo writable || echo read-only; \
         rpod image mount alpine >/dev/null; echo ---; rpod image mount; echo ---; \
         rpod image mount --format json; echo ---; \
         rpod image unmount alpine; rpod image mount; echo ---; \
         rpod image umount alpine; rpod image mount; echo ---; \
         rpod image unmount alpine; echo ---; \
         rpod image mount -a; rpod image mount alpine >/dev/null; rpod image unmount --all; rpod image mount; echo end'",
    );
    let listing = format!("localhost:5000/alpine:latest  {mps}\n");
    let mut parts = out.split("---\n");
    assert_eq!(parts.next().unwrap(), format!("{mps}\nread-only\n"));
    assert_eq!(parts.next().unwrap(), listing);
    let j: serde_json::Value = serde_json::from_str(parts.next().unwrap()).unwrap();
    assert_eq!(j[0]["id"], id.as_str());
    assert_eq!(j[0]["Repositories"][0], "localhost:5000/alpine:latest");
    assert!(j[0]["Names"][0].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(j[0]["mountpoint"], mps.as_str());
    // Mounted twice: the first unmount leaves one mount, the second none.
    assert_eq!(parts.next().unwrap(), format!("{id}\n{listing}"));
    assert_eq!(parts.next().unwrap(), format!("{id}\n"));
    // Not mounted: nothing to do, nothing printed, as podman.
    assert_eq!(parts.next().unwrap(), "");
    // --all mounts every image and lists them; unmount --all takes all off.
    assert_eq!(parts.next().unwrap(), format!("{listing}{id}\nend\n"));
    assert!(!mp.exists(), "the mount point goes with the last unmount");

    let (code, stderr) = env.rpod_fail(&["unshare", "rpod", "image", "mount", "nosuch"]);
    assert_eq!(code, 125);
    assert!(stderr.contains("nosuch: image not known"), "{stderr}");
    let (code, stderr) = env.rpod_fail(&["unshare", "rpod", "image", "unmount"]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("image name or ID must be specified"),
        "{stderr}"
    );
    // Nothing is left mounted on the host.
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host.contains(&mps));
}

#[test]
fn image_sign_and_trust_are_refused_in_one_line() {
    let env = env_with_alpine("imgsign");
    for args in [
        &["image", "sign", "--sign-by", "me@example.com", "alpine"][..],
        &["image", "trust", "show"][..],
        &["image", "trust", "set", "-t", "reject", "docker.io"][..],
    ] {
        let (code, stderr) = env.rpod_fail(args);
        assert_eq!(code, 125, "{args:?}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("signatures are not supported by rpod yet"),
            "{args:?}: {stderr}"
        );
    }
}
